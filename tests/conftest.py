"""Shared fixtures: a fresh home, and a fresh cloud on each backend.

PostgreSQL is the real server on 127.0.0.1:5432: one database is created per test
session and dropped at its end; each test gets its own schema in it (via
``search_path``), so tests never see each other's rows. Nothing is mocked.
Without a server the PostgreSQL tests skip with the reason, except under CI=true,
where they fail.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from support.env import IN_CI, PG_HOST, PG_PORT

PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"


def _pg_listening() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its name is yielded."""
    if not _pg_listening():
        reason = f"no PostgreSQL server on {PG_HOST}:{PG_PORT}"
        if IN_CI:
            pytest.fail(reason + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    import psycopg

    name = f"dmledger_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_admin_dsn(pg_database: str) -> str:
    """A libpq DSN for the superuser on this session's database (for psycopg)."""
    return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{pg_database}"


def pg_schema_url(database: str, schema: str) -> str:
    """A cloud URL that puts every unqualified name in ``schema``."""
    options = quote(f"-csearch_path={schema}")
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{database}?options={options}"


def new_pg_schema(database: str) -> str:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{database}", autocommit=True
    ) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """An empty PostgreSQL cloud (its own schema) for one test."""
    return pg_schema_url(pg_database, new_pg_schema(pg_database))


@pytest.fixture
def operator_role(pg_admin_dsn: str) -> Iterator[str]:
    """A login role with no privileges of its own; dropped (with its grants) afterwards."""
    import psycopg

    name = f"dml_op_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    yield name
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE {name}")


@pytest.fixture
def operator_url(pg_url: str, operator_role: str) -> str:
    """``pg_url`` (this test's cloud) as the restricted ``operator_role``."""
    return pg_url.replace(
        "postgresql+psycopg://postgres@", f"postgresql+psycopg://{operator_role}@", 1
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty embedded SQLite cloud file for one test."""
    return f"sqlite:///{tmp_path / 'cloud.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def cloud_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty cloud on each backend in turn: the same test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cloud.db'}"
    database = request.getfixturevalue("pg_database")
    return pg_schema_url(database, new_pg_schema(database))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh, empty home folder (not initialised)."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    """Playwright for one test module. Its sync driver runs an event loop in this
    thread for as long as it lives (so only one at a time, and it must be gone before
    tests that run asyncio themselves): one per module, closed at the module's end."""
    from support.chromium import CHROMIUM

    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (make chromium)"
        if IN_CI:
            pytest.fail(reason + " (CI=true: the browser tests must run)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
