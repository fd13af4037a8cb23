"""Screenshots of the extension's card on our stand-in for an Instagram profile page.

    python -m bench.screenshots_extension [--out docs/screenshots] [--review build/screenshots]

A temporary home with the demo team, the native host installed for it into a fresh
Chromium profile, the unpacked extension loaded (tests/support/extension.py).

``--out`` gets the README's pictures: extension-card.png (1400 px wide),
extension-card-narrow.png (390 px) and extension-thread.png (a DM thread after a
send: "Record this DM?"); and at 360 and 1400 px (``-WIDTH.png``) the card in a DM
thread (extension-in-thread), in a group thread (extension-group), and asking about
an Instagram account that is not one of the setter's (extension-account).

``--review`` gets the card in every state at 360 and 1400 px
(``extension-STATE-WIDTH.png``): not contacted, in the ledger but not messaged,
contacted by a teammate, owned by one of the setter's accounts, replied, excluded,
just after "They replied" (a lead someone messaged, and one nobody had), a thread
after a send, a thread it cannot read, the native host missing, and the cloud
unreachable (this machine's DMs only).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from tests.support.extension import CARD, Browser, seeded_home, start

from bench.screenshots import demo_home, pick
from dmledger.app.ledger import Ledger

REVIEW_WIDTHS = (360, 1400)
FRESH = "new.lead.studio"
DEMO_THREADS: dict[str, dict[str, Any]] = {
    "77": {"lead": FRESH, "title": "New Lead Studio"},
    "88": {"title": "Spring launch", "group": ["glow.skin", "quiet.lead", FRESH]},
}
# A cloud nothing answers on (port 9): the card can show this machine's DMs only.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/none"


def _wait(browser: Browser, verdict: str, handle: str | None = None) -> None:
    selector = f'{CARD} .panel[data-verdict="{verdict}"]'
    if handle is not None:
        selector += f'[data-handle="{handle}"]'
    # A thread it cannot read is waited for (about 15 s) before it says so.
    browser.page.locator(selector).wait_for(timeout=40000)


def _team_dms(browser: Browser) -> None:
    """Wait for the card with the team's DMs (or the word that they are unavailable)."""
    found = f'{CARD} [data-part="dms"][data-team="yes"], {CARD} [data-part="dms"] .dm-meta'
    browser.page.locator(found).first.wait_for(state="attached", timeout=20000)
    browser.page.wait_for_timeout(300)


def _send_in_thread(browser: Browser, thread: str, handle: str) -> None:
    browser.go(f"/direct/t/{thread}/")
    browser.page.locator(f'{CARD} .panel[data-handle="{handle}"]').wait_for()
    # Focused, not clicked: in a narrow window the card lies over our stand-in's composer
    # (Instagram's is at the bottom of the thread, below the card).
    browser.page.locator('[role="textbox"]').focus()
    browser.page.keyboard.type("Hi! Loved your latest reel, quick question?")
    browser.page.keyboard.press("Enter")
    browser.page.locator(f'{CARD} [data-sent="ask"]').wait_for()


def _thread_shots(driver: Any, folder: Path, home: Path, out: Path, saved: list[Path]) -> None:
    """The card in a thread, in a group thread, and asking about an unknown account,
    at each review width, into ``out`` (the README's)."""
    for width in REVIEW_WIDTHS:
        viewport = {"width": width, "height": 900 if width > 500 else 780}
        for signed_in, shots in (("sarah.sells", "threads"), ("new.setter.acct", "unknown")):
            where = folder / f"{shots}-{width}"
            where.mkdir()
            browser = start(driver, where, home, viewport=viewport, account=signed_in)
            browser.site.threads.update(DEMO_THREADS)
            save = partial(_shot, browser, out, width, saved)
            try:
                if signed_in == "sarah.sells":
                    browser.open("/direct/t/77/")
                    _wait(browser, "not-contacted", FRESH)
                    _team_dms(browser)
                    save("in-thread")
                    browser.go("/direct/t/88/")
                    _wait(browser, "group")
                    save("group")
                else:
                    browser.open("/direct/t/77/")
                    _wait(browser, "not-contacted", FRESH)
                    _team_dms(browser)
                    save("account")
            finally:
                browser.close()


def _states(browser: Browser, leads: dict[str, str], save: Callable[[str], None]) -> None:
    """Every state of the card the demo home can show, in one browser."""
    for state, verdict in (
        ("not-contacted", "not-contacted"),
        ("in-ledger", "not-contacted"),
        ("teammate", "contacted"),
        ("owned", "contacted"),
        ("replied", "contacted"),
        ("excluded", "excluded"),
    ):
        browser.open(f"/{leads[state]}/")
        _wait(browser, verdict, leads[state])
        _team_dms(browser)
        save(state)
    # "They replied" on a lead someone messaged, then on one nobody had.
    browser.open(f"/{leads['reply']}/")
    _wait(browser, "contacted", leads["reply"])
    _team_dms(browser)
    browser.page.click(f'{CARD} [data-action="reply"]')
    browser.page.locator(f"{CARD} .note-ok").wait_for()
    save("reply-recorded")
    nobody = leads["nobody"]
    browser.open(f"/{nobody}/")
    _wait(browser, "not-contacted", nobody)
    browser.page.click(f'{CARD} [data-action="reply"]')
    browser.page.locator(f"{CARD} .note-ok").wait_for()
    save("reply-unmessaged")
    browser.open(f"/{nobody}/")  # the same lead later: what the card says then
    _wait(browser, "contacted", nobody)
    _team_dms(browser)
    save("replied-unmessaged")
    browser.open(f"/{leads['owned']}/")
    _wait(browser, "contacted", leads["owned"])
    _send_in_thread(browser, "77", FRESH)
    save("thread-sent")
    browser.go("/direct/t/broken/")
    _wait(browser, "unreadable")
    save("unreadable")


def _shot(browser: Browser, review: Path, width: int, saved: list[Path], state: str) -> None:
    """``extension-STATE-WIDTH.png`` in ``review``."""
    path = review / f"extension-{state}-{width}.png"
    browser.page.screenshot(path=str(path))
    saved.append(path)


def capture(out: Path, review: Path | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="dmledger-ext-shots-") as folder:
        ledger = demo_home(Path(folder))
        hot = pick(ledger, "hot")
        leads = {
            "not-contacted": FRESH,
            "in-ledger": pick(ledger, "new"),
            "teammate": pick(ledger, "contacted", "marcus.closes"),
            "owned": pick(ledger, "contacted", "sarah.sells"),
            "replied": pick(ledger, "warm", "priya.studio"),
            "excluded": pick(ledger, "excluded"),
            "reply": pick(ledger, "contacted", "sarah.growth"),
        }
        # One DM from this machine, so the card shows its last DMs too.
        ledger.log_dm(hot, "Following up with the offer we discussed — does Tuesday work?")
        ledger.close()
        offline = Path(folder) / "offline"
        seeded_home(offline, cloud_url=UNREACHABLE, seed=False)
        lone = Ledger.open(offline)
        try:
            lone.log_dm("glow.skin", "Hey! Loved your last post")
        finally:
            lone.close()
        with sync_playwright() as driver:
            for name, width, height in (
                ("extension-card", 1400, 860),
                ("extension-card-narrow", 390, 844),
            ):
                shots = Path(folder) / name
                shots.mkdir()
                browser = start(
                    driver, shots, ledger.home, viewport={"width": width, "height": height}
                )
                browser.site.threads.update(DEMO_THREADS)
                try:
                    browser.open(f"/{hot}/")
                    browser.page.locator(f"{CARD} .panel[data-verdict]").wait_for()
                    path = out / f"{name}.png"
                    browser.page.screenshot(path=str(path))
                    saved.append(path)
                    if width > 1000:
                        _send_in_thread(browser, "77", FRESH)
                        path = out / "extension-thread.png"
                        browser.page.screenshot(path=str(path))
                        saved.append(path)
                finally:
                    browser.close()
            _thread_shots(driver, Path(folder), ledger.home, out, saved)
            if review is None:
                return saved
            review.mkdir(parents=True, exist_ok=True)
            for width in REVIEW_WIDTHS:
                viewport = {"width": width, "height": 900 if width > 500 else 780}

                shots = Path(folder) / f"review-{width}"
                shots.mkdir()
                current = start(driver, shots, ledger.home, viewport=viewport)
                current.site.threads.update(DEMO_THREADS)
                try:
                    # Someone who wrote first, new for each width (the home is shared).
                    nobody = {"nobody": f"wrote.first.{width}"}
                    _states(current, leads | nobody, partial(_shot, current, review, width, saved))
                finally:
                    current.close()
                # The native host not installed for this browser.
                (shots / "missing").mkdir()
                current = start(
                    driver, shots / "missing", ledger.home, install=False, viewport=viewport
                )
                try:
                    current.open(f"/{hot}/")
                    _wait(current, "unavailable", hot)
                    _shot(current, review, width, saved, "host-missing")
                finally:
                    current.close()
                # A home whose cloud does not answer: this machine's DMs only.
                (shots / "offline").mkdir()
                current = start(driver, shots / "offline", offline, viewport=viewport)
                try:
                    current.open("/glow.skin/")
                    _wait(current, "contacted", "glow.skin")
                    current.page.locator(f"{CARD} .dm-meta", has_text="Only this machine").wait_for(
                        timeout=30000
                    )
                    _shot(current, review, width, saved, "cloud-offline")
                finally:
                    current.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--review", type=Path, default=Path("build/screenshots"))
    parser.add_argument("--no-review", action="store_true", help="only the README's pictures")
    args = parser.parse_args()
    for path in capture(args.out, None if args.no_review else args.review):
        print(path)


if __name__ == "__main__":
    main()
