"""The extension in real headless Chromium, talking to the real native host.

Each test gets a fresh home (Sarah, actor sarah.sells, an embedded SQLite cloud with a
small team), the host installed for it with ``dmledger browser install --profile``
into a fresh user-data folder, and Debian's Chromium started on that folder with the
unpacked extension loaded. instagram.com is our own stand-in (support/instagram.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dmledger.app.ledger import Ledger
from dmledger.native.install import EXTENSION_ID, extension_dir
from support.chromium import CHROMIUM, CHROMIUM_ARGS
from support.env import IN_CI
from support.instagram import FakeInstagram

pytestmark = pytest.mark.browser

TEAM = (("Sarah", "sarah.sells"), ("Marcus", "marcus.closes"))
CARD = "#dmledger-root"


def dmledger(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real command line, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "dmledger", "--home", str(home), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def seeded_home(home: Path, *, cloud_url: str | None = None, seed: bool = True) -> None:
    """Sarah's home; with ``seed``, a team and a few leads synced from the cloud."""
    ledger, _ = Ledger.init_home(home, "Sarah", actor="sarah.sells", cloud_url=cloud_url)
    try:
        if seed:
            ledger.cloud_init()
            for operator, actor in TEAM:
                ledger.add_operator(operator)
                ledger.add_actor(actor, operator)
            ledger.log_dm("glow.skin", "Hey! Loved your last post", actor="marcus.closes")
            ledger.add_prospect("quiet.lead", notes="Found at the expo")
            ledger.add_prospect("no.thanks", status="excluded", notes="Asked not to be contacted")
            ledger.sync()
    finally:
        ledger.close()


@dataclass
class Browser:
    """A Chromium with the extension, the fake site, and the home behind the host."""

    context: Any
    page: Any
    site: FakeInstagram
    home: Path
    profile: Path
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto("https://www.instagram.com" + path)

    def go(self, path: str) -> None:
        """In-app navigation, as the site does it (history.pushState, no page load)."""
        self.page.evaluate("path => window.spaGo(path)", path)

    def panel(self) -> Any:
        return self.page.locator(f"{CARD} .panel")

    def wait_verdict(self, verdict: str, handle: str | None = None, timeout: float = 15000) -> Any:
        selector = f'{CARD} .panel[data-verdict="{verdict}"]'
        if handle is not None:
            selector += f'[data-handle="{handle}"]'
        found = self.page.locator(selector)
        found.wait_for(timeout=timeout)
        return found

    def card_text(self) -> str:
        return str(self.panel().inner_text())

    def ledger(self) -> Ledger:
        return Ledger.open(self.home)

    def worker(self) -> Any:
        workers = self.context.service_workers
        return workers[0] if workers else self.context.wait_for_event("serviceworker")


def chromium_or_skip() -> str:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (make chromium)"
        if IN_CI:
            pytest.fail(reason + " (CI=true: the browser tests must run)")
        pytest.skip(reason)
    return CHROMIUM


def launch(playwright: Any, profile: Path, **kwargs: Any) -> Any:
    folder = str(extension_dir())
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--headless")]
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium_or_skip(),
        headless=True,
        args=[*args, f"--disable-extensions-except={folder}", f"--load-extension={folder}"],
        ignore_default_args=["--disable-extensions"],
        viewport=kwargs.pop("viewport", {"width": 1280, "height": 900}),
        **kwargs,
    )


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


def start(playwright: Any, tmp_path: Path, home: Path, *, install: bool = True) -> Browser:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    if install:
        report = json.loads(
            dmledger(home, "--json", "browser", "install", "--profile", str(profile)).stdout
        )
        assert report["extension_id"] == EXTENSION_ID
    context = launch(playwright, profile)
    site = FakeInstagram(
        threads={
            "1001": {"me": "sarah.sells", "lead": "glow.skin", "title": "Glow Skin"},
            "1002": {"me": "sarah.sells", "lead": "brand.new.lead", "title": "Brand New"},
            "1003": {"me": "sarah.sells", "lead": "no.thanks", "title": "No Thanks"},
            "broken": {"broken": True},
            "nocomposer": {"me": "sarah.sells", "lead": "glow.skin", "noComposer": True},
        }
    )
    site.install(context)
    page = context.pages[0] if context.pages else context.new_page()
    found = Browser(context, page, site, home, profile)

    def on_dialog(dialog: Any) -> None:
        found.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: found.errors.append(str(error)))
    return found


@pytest.fixture
def browser(playwright: Any, tmp_path: Path, home: Path) -> Iterator[Browser]:
    seeded_home(home)
    found = start(playwright, tmp_path, home)
    try:
        yield found
    finally:
        found.context.close()
    assert found.dialogs == [], found.dialogs
    assert found.errors == [], found.errors
