"""What a person clicks, in real headless Chromium against a real server.

Each test serves the app on a free 127.0.0.1 port and opens a fresh browser context.
Every page is also watched for JavaScript errors and Content-Security-Policy
violations (both are console errors), and for dialogs (an XSS payload that ran).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dmledger import settings as config
from dmledger.app.demo import load_demo
from dmledger.app.ledger import Ledger
from dmledger.web.app import create_app
from dmledger.web.server import BackgroundServer

pytestmark = pytest.mark.browser

HTTP_ERROR_LOG = "Failed to load resource: the server responded with a status of 4"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'


@dataclass
class Session:
    """A served app and a browser page on it, with what the page reported."""

    url: str
    page: Any
    ledger: Ledger
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)
        self.page.wait_for_load_state("networkidle")


@pytest.fixture
def session(browser: Any, ledger: Ledger, token: str) -> Iterator[Session]:
    app = create_app(ledger, token=token, run_sync_loop=False)
    with BackgroundServer(app) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        page = context.new_page()
        found = Session(server.url, page, ledger)

        def on_dialog(dialog: Any) -> None:
            found.dialogs.append(dialog.message)
            dialog.dismiss()

        def on_console(message: Any) -> None:
            # A 4xx answer is logged too; it is a tested outcome, not a page error.
            if message.type == "error" and not message.text.startswith(HTTP_ERROR_LOG):
                found.console_errors.append(message.text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda error: found.console_errors.append(str(error)))
        try:
            yield found
        finally:
            context.close()
    assert found.console_errors == [], found.console_errors


def test_paste_a_profile_url_log_a_dm_and_find_the_lead_in_leads(session: Session) -> None:
    page = session.page
    session.go("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.evaluate(
        "text => navigator.clipboard.writeText(text)",
        "https://www.instagram.com/Brand.New.Lead/?igsh=abc",
    )
    with page.expect_navigation():
        page.keyboard.press("Control+V")  # pasting checks at once, no Enter needed
    card = page.locator("#card")
    assert "Not contacted" in card.inner_text()
    assert page.locator("#card-title").inner_text() == "@brand.new.lead"

    page.keyboard.press("Escape")  # leave the check box; then "m" goes to the message box
    page.keyboard.press("m")
    assert page.evaluate("document.activeElement.id") == "message"
    page.keyboard.type("Hi! Loved your studio's latest post.")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert "recorded" in page.locator("#flash").inner_text()
    assert "Already contacted" in page.locator("#card").inner_text()
    assert page.locator("#card .badge").inner_text().lower() == "contacted"
    assert "sarah.sells" in page.locator("#card").inner_text()

    session.go("/leads")
    row = page.locator("tr", has=page.locator('a[href="/lead/brand.new.lead"]'))
    assert row.count() == 1
    assert row.locator("select").input_value() == "contacted"
    assert session.ledger.card("brand.new.lead").owner_actor == "sarah.sells"


def test_typing_a_handle_and_enter_checks_it(session: Session) -> None:
    page = session.page
    session.go("/leads")
    page.keyboard.press("/")  # on Leads, "/" goes to the search box
    assert page.evaluate("document.activeElement.id") == "lq"
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    page.keyboard.press("c")
    page.wait_for_url(session.url + "/")
    page.fill("#q", "@glow.skin")
    with page.expect_navigation():
        page.press("#q", "Enter")
    assert "Already contacted" in page.locator("#card").inner_text()
    page.locator(".dm-list").wait_for()
    assert "Hey! Loved your last post" in page.locator("#card").inner_text()


def test_changing_a_status_inline_saves_it_without_a_reload(session: Session) -> None:
    page = session.page
    session.go("/leads")
    row = page.locator("tr", has=page.locator('a[href="/lead/glow.skin"]'))
    select = row.locator("select")
    height = row.bounding_box()["height"]
    colour = select.evaluate("el => getComputedStyle(el).color")
    select.select_option("booked")
    row.locator('[data-saved][aria-label="Saved"]').wait_for()
    assert session.ledger.card("glow.skin").status == "booked"
    # The menu keeps its look, now in the booked colour, and the row does not reflow.
    assert select.get_attribute("class") == "status-select status-booked"
    assert select.evaluate("el => getComputedStyle(el).color") != colour
    assert select.evaluate("el => getComputedStyle(el).minHeight") == "30px"
    assert row.bounding_box()["height"] == height
    session.go("/leads")
    assert row.locator("select").input_value() == "booked"


def test_bulk_status_change_from_the_leads_page(session: Session) -> None:
    page = session.page
    session.go("/leads")
    page.check("input[data-select-all]")
    assert "4 selected" in page.locator("[data-bulk-count]").inner_text()
    page.select_option("#bulk-status", "rejected")
    with page.expect_navigation():
        page.click("[data-bulk-submit]")
    assert "4 leads set to rejected" in page.locator("#flash").inner_text()
    assert session.ledger.card("quiet.lead").status == "rejected"


def test_importing_a_csv_shows_the_report_and_the_new_leads(
    session: Session, tmp_path: Path
) -> None:
    sample = tmp_path / "leads.csv"
    sample.write_text(
        "username\n@imported.one\nhttps://www.instagram.com/imported.two/\nglow.skin\nbad..one\n",
        encoding="utf-8",
    )
    page = session.page
    session.go("/leads")
    with page.expect_navigation():
        page.click("text=Import CSV")
    page.set_input_files("#file", str(sample))
    with page.expect_navigation():
        page.click("form.import-form button[type=submit]")
    report = page.locator("#import-report")
    assert report.locator('[data-stat="added"]').inner_text() == "2"
    assert report.locator('[data-stat="known"]').inner_text() == "1"
    assert report.locator('[data-stat="invalid"]').inner_text() == "1"
    assert "bad..one" in report.inner_text()
    session.go("/leads?q=imported")
    assert page.locator('a[href="/lead/imported.one"]').count() == 1
    assert page.locator('a[href="/lead/imported.two"]').count() == 1


def test_team_page_renders_its_charts(browser: Any, home: Path) -> None:
    ledger, _ = Ledger.init_home(home, "Sarah", actor="sarah.sells")
    try:
        ledger.cloud_init()
        load_demo(ledger, leads=60, dms=160)
        ledger.sync()
        app = create_app(ledger, token=config.api_token(home), run_sync_loop=False)
        with BackgroundServer(app) as server:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server.url + "/team")
            charts = page.locator("section.chart svg:visible")
            assert charts.count() == 4
            for n in range(4):
                box = charts.nth(n).bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 100
            assert page.locator("table.heatmap td").count() == 7 * 24
            assert "Messages sent" in page.locator(".kpis").first.inner_text()
            assert "Reply rate" in page.locator("#followup-kpis").inner_text()
            with page.expect_navigation():
                page.click("label[for=period-7d]")
            assert "period=7d" in page.url
            assert page.locator("section.chart svg:visible").count() == 4
            context.close()
        assert errors == []
    finally:
        ledger.close()


def test_xss_payloads_stay_inert_text(session: Session, token: str) -> None:
    ledger = session.ledger
    ledger.update_prospect("glow.skin", append_note=XSS_SCRIPT)
    ledger.update_prospect("glow.skin", append_note=XSS_IMG)
    ledger.log_dm("glow.skin", XSS_IMG)
    ledger.log_dm("glow.skin", XSS_SCRIPT)
    ledger.add_operator(XSS_IMG)
    ledger.sync()
    page = session.page
    for path in ("/?q=glow.skin", "/lead/glow.skin", "/leads", "/admin", "/team?period=all"):
        session.go(path)
        assert page.locator('img[src="x"]').count() == 0, path
        assert page.locator("main script").count() == 0, path
    session.go("/?q=glow.skin")
    notes = page.locator(".notes-text").inner_text()
    assert XSS_SCRIPT in notes and XSS_IMG in notes
    page.locator(".dm-list").wait_for()
    assert page.get_by_text(XSS_SCRIPT, exact=True).first.is_visible()
    session.go("/admin")
    assert XSS_IMG in page.locator("ul.chips").inner_text()
    # A payload in the check box comes back in the error message: still text.
    session.go("/")
    page.fill("#q", XSS_IMG)
    with page.expect_navigation():
        page.press("#q", "Enter")
    assert XSS_IMG in page.locator("#check-error").inner_text()
    assert session.dialogs == []


def test_a_form_on_another_site_cannot_post_to_the_app(session: Session, tmp_path: Path) -> None:
    # An attacker's page on another port of this machine that auto-submits a form.
    (tmp_path / "attack.html").write_text(
        f"""<!doctype html><form id=f method=post action="{session.url}/lead/glow.skin/status">
        <input name=status value=rejected></form>
        <script>document.getElementById('f').submit()</script>""",
        encoding="utf-8",
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

    handler = lambda *a: Quiet(*a, directory=str(tmp_path))  # noqa: E731
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=attacker.serve_forever, daemon=True)
    thread.start()
    try:
        session.go("/")  # the victim has a session with the app
        response_codes: list[int] = []
        session.page.on(
            "response",
            lambda r: (
                response_codes.append(r.status) if "/lead/glow.skin/status" in r.url else None
            ),
        )
        session.page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/attack.html")
        session.page.wait_for_url(session.url + "/lead/glow.skin/status")
        session.page.wait_for_load_state("networkidle")
    finally:
        attacker.shutdown()
        attacker.server_close()
        thread.join(timeout=10)
    assert response_codes == [403]
    assert session.ledger.card("glow.skin").status != "rejected"


def test_sync_now_button_updates_the_indicator(session: Session) -> None:
    session.ledger.log_dm("waiting.one", "Hi")
    page = session.page
    session.go("/")
    assert "1 waiting to sync" in page.locator("#sync-label").inner_text()
    page.click("#sync-now")
    page.locator('#sync[data-state="ok"]').wait_for(timeout=30_000)
    assert page.locator("#sync-label").inner_text().startswith("Synced")
    assert session.ledger.status(probe_cloud=False).pending_logs == 0


def test_factory_reset_button_waits_for_the_typed_word(session: Session) -> None:
    page = session.page
    session.go("/admin")
    button = page.locator("[data-confirm-button]")
    assert button.is_disabled()
    page.fill("#confirm", "reset")
    assert button.is_disabled()
    page.fill("#confirm", "RESET")
    assert button.is_enabled()


def test_today_page_log_a_follow_up_snooze_and_the_empty_state(session: Session) -> None:
    from datetime import datetime

    page = session.page
    old = datetime(2026, 1, 1, 10, 0)
    session.ledger.log_dm("due.one", "hello there", at=old)
    session.ledger.log_dm("due.two", "hi again", at=old)
    session.go("/today")
    items = page.locator("#due-list > li")
    assert items.count() == 2
    first = page.locator('li[data-handle="due.one"]')
    assert "hello there" in first.inner_text() and "sarah.sells" in first.inner_text()
    first.locator("textarea").fill("Following up on my last message")
    with page.expect_navigation():
        first.get_by_role("button", name="Log follow-up").click()
    assert "Follow-up to due.one" in page.locator("#flash").inner_text()
    assert page.locator('li[data-handle="due.one"]').count() == 0
    with page.expect_navigation():
        page.locator('li[data-handle="due.two"]').get_by_role("button", name="Snooze 1 day").click()
    assert "snoozed" in page.locator("#flash").inner_text()
    assert page.locator("#today-empty").is_visible()
    assert session.ledger.card("due.one").recent_logs[0].message.startswith("Following up")
