"""Fixtures for the web app: a home with a small team in its embedded cloud, the app
around it, an in-process client, and (for browser tests) Debian's Chromium.

The in-process client talks to the app through ASGI with ``Host: 127.0.0.1``; the
browser tests run a real uvicorn server on a free 127.0.0.1 port.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from web_support import BASE_URL, TestClient, make_ledger, seed_team

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.web.app import create_app
from support.chromium import CHROMIUM, CHROMIUM_ARGS
from support.env import IN_CI


def pytest_configure(config: pytest.Config) -> None:
    # pygal (the Team charts) appends a legacy finder without find_spec to sys.meta_path;
    # from then on every failed optional import (uvicorn, httpx and keyring try several)
    # emits this ImportWarning, which filterwarnings=error would turn into a failure.
    # Python 3.12 skips such finders silently; so do we.
    config.addinivalue_line(
        "filterwarnings", r"ignore:PluginImportFixer\.find_spec\(\) not found:ImportWarning"
    )


@pytest.fixture
def ledger(home: Path) -> Iterator[Ledger]:
    """A home with a small team, synced with its embedded SQLite cloud."""
    opened = make_ledger(home)
    seed_team(opened)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def token(ledger: Ledger) -> str:
    return config.api_token(ledger.home)


@pytest.fixture
def app(ledger: Ledger, token: str) -> FastAPI:
    return create_app(ledger, token=token, run_sync_loop=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (make chromium)"
        if IN_CI:
            pytest.fail(reason + " (CI=true: the browser tests must run)")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: str, playwright: Any) -> Iterator[Any]:
    """One headless Chromium per test module (a fresh context per test)."""
    launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()
