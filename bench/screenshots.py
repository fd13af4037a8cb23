"""Screenshots of every page of the web app, with demo data: the README's and a review set.

    python -m bench.screenshots [--out docs/screenshots] [--review build/screenshots]

Builds a temporary home with the demo team (the embedded cloud, synced), serves the
app on a free 127.0.0.1 port and drives Debian's Chromium through Playwright.

``--out`` gets the README's pictures: check.png (a status card), check-excluded.png,
leads.png, lead.png, team.png, admin.png, import.png, today.png; and at 390 px
today-mobile.png and the Team page's follow-up figures (team-followups.png,
team-followups-mobile.png).

``--review`` gets every page whole, at a phone's width and a laptop's
(``NAME-360.png`` and ``NAME-1360.png``): the pages above, a lead nobody has recorded,
a search while the search index is being built, and the error page. These are for
looking at before a release, not for the README (``build/`` is not committed).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

from dmledger import settings as config
from dmledger.app.demo import load_demo
from dmledger.app.ledger import Ledger
from dmledger.local import meta_keys
from dmledger.local.store import ProspectFilter
from dmledger.web.app import create_app
from dmledger.web.server import BackgroundServer

IMPORT_SAMPLE = "handle\n@new.lead.one\nhttps://www.instagram.com/new.lead.two/\nglow..bad\n"
#: The review set's widths: a small phone and a laptop.
REVIEW_WIDTHS = (360, 1360)
Prepare = Callable[[Page], None]


def demo_home(root: Path) -> Ledger:
    """A home with the demo team loaded into its embedded cloud and pulled."""
    home = root / "home"
    Ledger.init_home(home, "Sarah", actor="sarah.sells")[0].close()
    ledger = Ledger.open(home)
    ledger.cloud_init()
    load_demo(ledger)
    ledger.sync()
    return ledger


def pick(ledger: Ledger, status: str, owner: str | None = None) -> str:
    """A demo lead with this status (and owner) and some notes, for a telling screenshot."""
    rows = ledger.list_prospects(ProspectFilter(status=status, owner_actor=owner), limit=50)
    noted = [p for p in rows if p.notes]
    return (noted or rows)[0].handle


class Camera:
    """One browser context on the app at one width; ``shot`` saves a page as a PNG."""

    def __init__(
        self, browser: Browser, url: str, out: Path, width: int, saved: list[Path]
    ) -> None:
        self.context = browser.new_context(
            viewport={"width": width, "height": 900 if width > 500 else 844},
            device_scale_factor=1,
        )
        self.page = self.context.new_page()
        self.url = url
        self.out = out
        self.saved = saved

    def shot(
        self, name: str, url: str, prepare: Prepare | None = None, *, full_page: bool = True
    ) -> None:
        self.page.goto(self.url + url)
        self.page.wait_for_load_state("networkidle")
        if prepare is not None:
            prepare(self.page)
            self.page.wait_for_load_state("networkidle")
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        self.saved.append(path)

    def followups(self, name: str) -> None:
        """The Team page's follow-up figures alone."""
        self.page.goto(self.url + "/team")
        self.page.wait_for_load_state("networkidle")
        # Sticky bars and table heads would be drawn over an element's screenshot.
        self.page.add_style_tag(content=".topbar, .table thead th { position: static !important; }")
        path = self.out / f"{name}.png"
        self.page.locator("section.followups").screenshot(path=str(path))
        self.saved.append(path)

    def close(self) -> None:
        self.context.close()


def capture(out: Path, width: int, review: Path | None = None) -> list[Path]:
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

        def paste_check(p: Page) -> None:
            p.fill("#q", f"https://www.instagram.com/{hot}/?igsh=abc123")
            p.press("#q", "Enter")
            p.wait_for_selector("#card")

        def upload(p: Page) -> None:
            p.set_input_files("#file", str(sample))
            p.click("form.import-form button[type=submit]")
            p.wait_for_selector("#import-report")

        try:
            with BackgroundServer(app) as server, sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                camera = Camera(browser, server.url, out, width, saved)
                camera.shot("check", "/", paste_check)
                camera.shot("check-excluded", f"/?q={excluded}")
                camera.shot("leads", "/leads", full_page=False)
                camera.shot("lead", f"/lead/{hot}")
                camera.shot("team", "/team")
                camera.shot("admin", "/admin?check=true")
                camera.shot("import", "/leads/import", upload)
                camera.shot("today", "/today", full_page=False)
                camera.followups("team-followups")
                camera.close()
                # The phone width: Today and the follow-up figures at 390 px.
                camera = Camera(browser, server.url, out, 390, saved)
                camera.shot("today-mobile", "/today", full_page=False)
                camera.followups("team-followups-mobile")
                camera.close()
                if review is not None:
                    review.mkdir(parents=True, exist_ok=True)
                    pages: list[tuple[str, str, Prepare | None]] = [
                        ("today", "/today", None),
                        ("check", "/", paste_check),
                        ("check-excluded", f"/?q={excluded}", None),
                        ("check-unknown", "/?q=someone.new", None),
                        ("leads", "/leads", None),
                        ("lead", f"/lead/{hot}", None),
                        ("team", "/team", None),
                        ("admin", "/admin?check=true", None),
                        ("import", "/leads/import", upload),
                        ("error", "/lead/nobody.here", None),
                    ]
                    for review_width in REVIEW_WIDTHS:
                        camera = Camera(browser, server.url, review, review_width, saved)
                        for name, url, prepare in pages:
                            camera.shot(f"{name}-{review_width}", url, prepare)
                        camera.close()
                    # A full resync stopped before its search index: the Leads page says so.
                    with ledger.local.transaction() as conn:
                        ledger.local.set_meta(conn, meta_keys.SEARCH_INDEX_BUILDING, "1")
                    for review_width in REVIEW_WIDTHS:
                        camera = Camera(browser, server.url, review, review_width, saved)
                        camera.shot(f"leads-indexing-{review_width}", "/leads?q=studio", None)
                        camera.close()
                browser.close()
        finally:
            ledger.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--width", type=int, default=1360)
    parser.add_argument("--review", type=Path, default=Path("build/screenshots"))
    parser.add_argument("--no-review", action="store_true", help="only the README's pictures")
    args = parser.parse_args()
    for path in capture(args.out, args.width, None if args.no_review else args.review):
        print(path)


if __name__ == "__main__":
    main()
