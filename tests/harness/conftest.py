"""The ``pytester`` fixture for the plugin tests (the shared fixtures live in
``tests/conftest.py``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # The ``pytester`` fixture, for the plugin tests. Not ``pytest_plugins = ["pytester"]``:
    # pytest refuses that in a conftest below the rootdir when run as ``pytest`` or
    # ``pytest tests`` (this conftest is then not an initial one).
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
