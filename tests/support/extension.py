"""The extension in Debian's Chromium with the real native host, on our stand-in for
instagram.com: what the extension tests, the benchmark and the screenshots share.

``start`` installs the host for a home with ``dmledger browser install --profile``
into a fresh user-data folder, starts Chromium on that folder with the unpacked
extension loaded, and routes instagram.com to :class:`FakeInstagram`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmledger.app.ledger import Ledger
from dmledger.native.install import EXTENSION_ID, extension_dir

from .chromium import CHROMIUM, CHROMIUM_ARGS
from .instagram import FakeInstagram

CARD = "#dmledger-root"
# The card waits about 15 s for a thread's pane before it says it cannot read it; under
# load the host's start comes on top. A deadline for that answer, not a speed target.
UNREADABLE_WAIT_MS = 60000
TEAM = (("Sarah", "sarah.sells"), ("Marcus", "marcus.closes"))
THREADS: dict[str, dict[str, Any]] = {
    "1001": {"lead": "glow.skin", "title": "Glow Skin", "shared": "other.creator"},
    "1002": {"lead": "brand.new.lead", "title": "Brand New"},
    "1003": {"lead": "no.thanks", "title": "No Thanks", "grid": False},
    "2002": {"lead": "quiet.lead", "title": "Quiet", "e2ee": True, "grid": False},
    "3003": {"title": "Launch crew", "group": ["glow.skin", "quiet.lead", "no.thanks"]},
    "late": {"lead": "brand.new.lead", "title": "Brand New", "late": 2500},
    "fails": {"lead": "brand.new.lead", "title": "Brand New", "failSend": True},
    "broken": {"lead": "glow.skin", "broken": True},
    "nocomposer": {"lead": "glow.skin", "noComposer": True},
}


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

    def close(self) -> None:
        self.context.close()


def launch(
    playwright: Any,
    profile: Path,
    viewport: dict[str, int] | None = None,
    extension: Path | None = None,
) -> Any:
    """Chromium on ``profile`` with the unpacked extension (or ``extension``) loaded."""
    folder = str(extension or extension_dir())
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--headless")]
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=[*args, f"--disable-extensions-except={folder}", f"--load-extension={folder}"],
        ignore_default_args=["--disable-extensions"],
        viewport=viewport or {"width": 1280, "height": 900},
    )


def start(
    playwright: Any,
    folder: Path,
    home: Path,
    *,
    install: bool = True,
    viewport: dict[str, int] | None = None,
    extension: Path | None = None,
    lang: str = "en",
    account: str | None = "sarah.sells",
    launcher: str | None = None,
) -> Browser:
    """Install the host for ``home`` (unless not ``install``) and start the browser,
    with the unpacked extension or the one in ``extension``, on the stand-in site in
    ``lang``, signed in as ``account``. ``launcher``: a launcher script to put in place
    of the installed one (tests/support/held_host.py's)."""
    profile = folder / "profile"
    profile.mkdir(exist_ok=True)
    if install:
        done = dmledger(home, "--json", "browser", "install", "--profile", str(profile))
        report = json.loads(done.stdout)
        assert report["extension_id"] == EXTENSION_ID
        if launcher is not None:
            for placed in report["manifests"]:
                Path(placed["launcher"]).write_text(launcher, encoding="utf-8")
    context = launch(playwright, profile, viewport, extension)
    site = FakeInstagram(threads=json.loads(json.dumps(THREADS)), account=account, lang=lang)
    site.install(context)
    page = context.pages[0] if context.pages else context.new_page()
    found = Browser(context, page, site, home, profile)

    def on_dialog(dialog: Any) -> None:
        found.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: found.errors.append(str(error)))
    return found
