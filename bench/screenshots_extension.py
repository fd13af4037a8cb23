"""Screenshots of the extension's card on our stand-in for an Instagram profile page.

    python -m bench.screenshots_extension [--out docs/screenshots]

A temporary home with the demo team, the native host installed for it into a fresh
Chromium profile, the unpacked extension loaded (tests/support/extension.py). Writes
extension-card.png (1400 px wide), extension-card-narrow.png (390 px) and
extension-thread.png (a DM thread after a send: "Record this DM?").
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from tests.support.extension import CARD, start

from bench.screenshots import demo_home, pick


def capture(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="dmledger-ext-shots-") as folder:
        ledger = demo_home(Path(folder))
        hot = pick(ledger, "hot")
        fresh = "new.lead.studio"
        # One DM from this machine, so the card shows its last DMs too.
        ledger.log_dm(hot, "Following up with the offer we discussed — does Tuesday work?")
        ledger.close()
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
                browser.site.threads["77"] = {"me": "sarah.sells", "lead": fresh}
                try:
                    browser.open(f"/{hot}/")
                    browser.page.locator(f"{CARD} .panel[data-verdict]").wait_for()
                    path = out / f"{name}.png"
                    browser.page.screenshot(path=str(path))
                    saved.append(path)
                    if width > 1000:
                        browser.go("/direct/t/77/")
                        browser.page.locator(f'{CARD} .panel[data-handle="{fresh}"]').wait_for()
                        box = browser.page.locator('[role="textbox"]')
                        box.click()
                        browser.page.keyboard.type("Hi! Loved your latest reel, quick question?")
                        browser.page.keyboard.press("Enter")
                        browser.page.locator(f'{CARD} [data-sent="ask"]').wait_for()
                        path = out / "extension-thread.png"
                        browser.page.screenshot(path=str(path))
                        saved.append(path)
                finally:
                    browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    for path in capture(args.out):
        print(path)


if __name__ == "__main__":
    main()
