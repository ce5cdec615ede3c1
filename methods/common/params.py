"""Parameter checks shared by every experiment: a bad value raises ValueError naming the
parameter, so a claim file's typo or out-of-range value fails with a clear message."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def require(ok: bool, name: str, message: str, value: Any) -> None:
    """Raise ``ValueError("parameter 'name' <message>, got <value>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"parameter {name!r} {message}, got {value!r}")


def is_int(v: Any) -> bool:
    """An integer that is not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def is_real(v: Any) -> bool:
    """A finite real number that is not a bool."""
    return (
        isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool)
        and math.isfinite(v)
    )
