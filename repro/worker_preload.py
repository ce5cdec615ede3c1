"""What the local pool's fork server imports once, before it forks any worker.

The fork server (:mod:`repro.executors`) is a clean process started by the driver. It
imports torch, the harness and every ``methods`` package here, then only forks: each pool
worker starts with all of it already imported (milliseconds instead of ~2 s of imports per
worker), and because the server never runs a torch op or a BLAS call, a fork from it is
as safe as a fresh process (a plain fork of the driver, which may have run OpenMP regions,
is not).

First of all it asks the kernel to kill it when the driver dies (the workers ask the same of
the server), so a driver killed by SIGKILL leaves no server and no worker behind.
"""

from __future__ import annotations

import os

from .executors import SERVER_PARENT_ENV, die_with_parent

_parent = os.environ.pop(SERVER_PARENT_ENV, None)
if _parent is not None:  # started by ProcessExecutor, not imported by hand
    die_with_parent(int(_parent))

import torch  # noqa: E402,F401  (the point of this module: imported once, in the server)

from . import execute, registry  # noqa: E402,F401

registry.discover()  # every methods package; a broken one is recorded as usual
