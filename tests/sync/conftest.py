"""Fixtures for the sync tests: a team of agents around a fresh cloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from syncworld import Team


@pytest.fixture
def team(cloud_url: str, tmp_path: Path) -> Iterator[Team]:
    """Agents around a fresh cloud, on SQLite and on PostgreSQL in turn."""
    world = Team(cloud_url, tmp_path)
    yield world
    world.close()


@pytest.fixture
def pg_team(pg_url: str, tmp_path: Path) -> Iterator[Team]:
    """Agents around a fresh PostgreSQL cloud (for tests that need a network path)."""
    world = Team(pg_url, tmp_path)
    yield world
    world.close()
