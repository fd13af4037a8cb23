"""Fixtures for the native host tests: a set-up home and a host process on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.native_host import HostProcess, make_home


@pytest.fixture
def ready_home(home: Path) -> Path:
    make_home(home)
    return home


@pytest.fixture
def host(ready_home: Path) -> Iterator[HostProcess]:
    found = HostProcess(ready_home)
    try:
        yield found
    finally:
        found.kill()
