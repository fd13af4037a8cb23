"""Every page holds at any width from a phone to a wide screen, in real Chromium.

At 360, 390, 700, 1024 and 1400 px each page is checked for horizontal overflow: the
page must not scroll sideways, no visible element may stick out of its parent's box,
no box may cut or scroll its content sideways (text that ends in an ellipsis on
purpose excepted), and no text may spill out of its box. Set DMLEDGER_LAYOUT_SHOTS to
a folder to keep a screenshot of every page at every width.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dmledger import settings as config
from dmledger.app.demo import load_demo
from dmledger.app.ledger import Ledger
from dmledger.local.store import ProspectFilter
from dmledger.web.app import create_app
from dmledger.web.server import BackgroundServer

pytestmark = pytest.mark.browser

WIDTHS = (360, 390, 700, 1024, 1400)
SHOTS = os.environ.get("DMLEDGER_LAYOUT_SHOTS")  # a folder: save a screenshot of each page

HERE = Path(__file__).parent
# The checks run in the page; kept as JavaScript files so they read as JavaScript.
OVERFLOWS = (HERE / "layout_overflows.js").read_text(encoding="utf-8")
CHART_TEXT = (HERE / "layout_chart_text.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Ledger, dict[str, str]]]:
    home = tmp_path_factory.mktemp("layout") / "home"
    Ledger.init_home(home, "Sarah", actor="sarah.sells")[0].close()
    ledger = Ledger.open(home)
    ledger.cloud_init()
    load_demo(ledger)
    ledger.sync()
    hot = ledger.list_prospects(ProspectFilter(status="hot"), limit=1)[0].handle
    ledger.log_dm(hot, "Following up with the offer we discussed — does Tuesday work for a call?")
    long_note = "A very long note without many breaks: " + "supercalifragilistic" * 6
    ledger.update_prospect(hot, append_note=long_note)
    pages = {
        "check": f"/?q={hot}",
        "check-unknown": "/?q=someone.new",
        "check-invalid": "/?q=not a handle!",
        "leads": "/leads",
        "lead": f"/lead/{hot}",
        "team": "/team?period=all",
        "admin": "/admin?check=true",
        "import": "/leads/import",
        "today": "/today",
    }
    app = create_app(ledger, token=config.api_token(home), run_sync_loop=False)
    with BackgroundServer(app) as server:
        yield server.url, ledger, pages
    ledger.close()


@contextmanager
def page_at(browser: Any, width: int) -> Iterator[Any]:
    """A page in a fresh browser context whose window is ``width`` px wide."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_overflows_horizontally(
    browser: Any, demo: tuple[str, Ledger, dict[str, str]], width: int
) -> None:
    url, _ledger, pages = demo
    with page_at(browser, width) as page:
        problems: dict[str, list[str]] = {}
        for name, path in pages.items():
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            if SHOTS:
                Path(SHOTS).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)
            found = page.evaluate(OVERFLOWS)
            if found:
                problems[name] = found[:8]
        assert problems == {}, problems


@pytest.mark.parametrize("width", WIDTHS)
def test_chart_labels_are_readable_and_values_sit_beside_their_bars(
    browser: Any, demo: tuple[str, Ledger, dict[str, str]], width: int
) -> None:
    url, _ledger, pages = demo
    with page_at(browser, width) as page:
        page.goto(url + pages["team"])
        page.wait_for_load_state("networkidle")
        found = page.evaluate(CHART_TEXT)
    assert found["smallest"] >= 11, found
    assert found["overlaps"] == [], found
