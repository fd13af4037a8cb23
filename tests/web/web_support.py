"""Helpers the web tests share: a seeded home, and posting page forms with their CSRF token."""

from __future__ import annotations

import html
import re
import warnings
from pathlib import Path
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from dmledger.app.ledger import Ledger

with warnings.catch_warnings():
    # Starlette prefers the httpx2 package for its test client; httpx works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BASE_URL = "http://127.0.0.1"
TEAM = (("Sarah", "sarah.sells"), ("Marcus", "marcus.closes"), ("Priya", "priya.studio"))


def make_ledger(home: Path, *, cloud_url: str | None = None) -> Ledger:
    """An initialised home for operator Sarah (actor sarah.sells)."""
    ledger, _ = Ledger.init_home(home, "Sarah", actor="sarah.sells", cloud_url=cloud_url)
    ledger.close()
    return Ledger.open(home)


def seed_team(ledger: Ledger) -> None:
    """Operators and actors in the cloud, a few leads and DMs, synced to the cache."""
    ledger.cloud_init()
    for operator, actor in TEAM:
        ledger.add_operator(operator)
        ledger.add_actor(actor, operator)
    ledger.log_dm("glow.skin", "Hey! Loved your last post", actor="marcus.closes")
    ledger.log_dm("fit.coach", "Quick question about your bookings?")
    ledger.add_prospect("quiet.lead", notes="Found at the expo")
    ledger.add_prospect("no.thanks", status="excluded", notes="Asked not to be contacted")
    ledger.sync()


_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(client: TestClient, path: str = "/") -> str:
    """Load a page (which sets the session cookie) and return its CSRF token."""
    response = client.get(path)
    found = _CSRF.search(response.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post_form(
    client: TestClient, path: str, data: dict[str, Any], *, page: str = "/", **kwargs: Any
) -> Any:
    """POST a page form the way the page would: with its CSRF token."""
    return client.post(path, data={**data, "csrf_token": csrf_of(client, page)}, **kwargs)


def flash_of(client: TestClient, response: Any) -> str:
    """Follow a 303 and return the page's one-time message."""
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    found = re.search(r'class="flash flash-(?:ok|error)"[^>]*>(.*?)</div>', page.text, re.S)
    return html.unescape(found.group(1).strip()) if found else ""


__all__ = ["TestClient"]
