"""Screenshots of every page of the web app, with demo data, for the README.

    python -m bench.screenshots [--out docs/screenshots] [--width 1360]

Builds a temporary home with the demo team (the embedded cloud, synced), serves the
app on a free 127.0.0.1 port and drives Debian's Chromium through Playwright. Writes
one PNG per page: check.png (a status card), check-excluded.png, leads.png, lead.png,
team.png, admin.png, import.png, today.png; and at 390 px today-mobile.png and the Team
page's follow-up figures (team-followups.png, team-followups-mobile.png).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

from dmledger import settings as config
from dmledger.app.demo import load_demo
from dmledger.app.ledger import Ledger
from dmledger.local.store import ProspectFilter
from dmledger.web.app import create_app
from dmledger.web.server import BackgroundServer

IMPORT_SAMPLE = "handle\n@new.lead.one\nhttps://www.instagram.com/new.lead.two/\nglow..bad\n"


def demo_home(root: Path) -> Ledger:
    """A home with the demo team loaded into its embedded cloud and pulled."""
    home = root / "home"
    Ledger.init_home(home, "Sarah", actor="sarah.sells")[0].close()
    ledger = Ledger.open(home)
    ledger.cloud_init()
    load_demo(ledger)
    ledger.sync()
    return ledger


def pick(ledger: Ledger, status: str) -> str:
    """A demo lead with this status and some notes, for a telling screenshot."""
    rows = ledger.list_prospects(ProspectFilter(status=status), limit=50)
    noted = [p for p in rows if p.notes]
    return (noted or rows)[0].handle


def capture(out: Path, width: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="dmledger-shots-") as folder:
        ledger = demo_home(Path(folder))
        hot = pick(ledger, "hot")
        excluded = pick(ledger, "excluded")
        # One DM logged from this machine, so the card shows a local, unsynced DM too.
        ledger.log_dm(hot, "Following up with the offer we discussed — does Tuesday work?")
        app = create_app(ledger, token=config.api_token(ledger.home), run_sync_loop=False)
        sample = Path(folder) / "leads.csv"
        sample.write_text(IMPORT_SAMPLE, encoding="utf-8")
        try:
            with (
                BackgroundServer(app) as server,
                sync_playwright() as driver,
            ):
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(
                    viewport={"width": width, "height": 900}, device_scale_factor=1
                )
                page = context.new_page()

                def shot(
                    name: str,
                    url: str,
                    prepare: Callable[[Page], None] | None = None,
                    *,
                    full_page: bool = True,
                ) -> None:
                    page.goto(server.url + url)
                    page.wait_for_load_state("networkidle")
                    if prepare is not None:
                        prepare(page)
                        page.wait_for_load_state("networkidle")
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path), full_page=full_page)
                    saved.append(path)

                def paste_check(p: Page) -> None:
                    p.fill("#q", f"https://www.instagram.com/{hot}/?igsh=abc123")
                    p.press("#q", "Enter")
                    p.wait_for_selector("#card")

                def upload(p: Page) -> None:
                    p.set_input_files("#file", str(sample))
                    p.click("form.import-form button[type=submit]")
                    p.wait_for_selector("#import-report")

                shot("check", "/", paste_check)
                shot("check-excluded", f"/?q={excluded}")
                shot("leads", "/leads", full_page=False)
                shot("lead", f"/lead/{hot}")
                shot("team", "/team")
                shot("admin", "/admin?check=true")
                shot("import", "/leads/import", upload)
                shot("today", "/today", full_page=False)

                def followups(name: str) -> None:
                    page.goto(server.url + "/team")
                    page.wait_for_load_state("networkidle")
                    # Sticky bars and table heads would be drawn over an element's screenshot.
                    page.add_style_tag(
                        content=".topbar, .table thead th { position: static !important; }"
                    )
                    path = out / f"{name}.png"
                    page.locator("section.followups").screenshot(path=str(path))
                    saved.append(path)

                followups("team-followups")
                context.close()
                # The phone width: Today and the follow-up figures at 390 px.
                context = browser.new_context(
                    viewport={"width": 390, "height": 844}, device_scale_factor=1
                )
                page = context.new_page()
                shot("today-mobile", "/today", full_page=False)
                followups("team-followups-mobile")
                context.close()
                browser.close()
        finally:
            ledger.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--width", type=int, default=1360)
    args = parser.parse_args()
    for path in capture(args.out, args.width):
        print(path)


if __name__ == "__main__":
    main()
