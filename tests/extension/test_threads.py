"""The card in a DM thread of the stand-in site built to Instagram's structure
(tests/fixtures/instagram/README.md), in English and in Spanish: the lead from the
pane's heading, groups, e2ee threads, a pane that renders late, in-app navigation
with the old pane still on screen, the account signed in, and sends noticed by
place and key, never by a label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.extension import CARD, Browser, seeded_home

pytestmark = pytest.mark.browser

LANGS = ["en", "es"]
COMPOSER = '[role="main"] [role="textbox"][contenteditable="true"]'
SEND = {"en": "Send", "es": "Enviar"}


@pytest.fixture(params=LANGS)
def lang(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def site(open_browser: Any, home: Path, lang: str) -> Browser:
    seeded_home(home)
    found: Browser = open_browser(home, lang=lang)
    return found


def account_of(browser: Browser) -> str | None:
    value = browser.panel().get_attribute("data-account")
    return None if value is None else str(value)


def local_logs(browser: Browser, handle: str) -> list[dict[str, Any]]:
    ledger = browser.ledger()
    try:
        return [log.to_dict() for log in ledger.card(handle).recent_logs]
    finally:
        ledger.close()


def test_the_lead_is_the_profile_heading_the_pane_not_other_links(site: Browser) -> None:
    # The page has other profile links before and in the pane: the navigation (the
    # signed-in account), inbox rows, message avatars, a shared post's author.
    site.open("/direct/t/1001/")
    site.wait_verdict("contacted", "glow.skin")
    links = site.page.evaluate(
        "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
    )
    assert "/sarah.sells/" in links and "/other.creator/" in links and "/quiet.lead/" in links
    assert site.page.locator("[role=main] header").count() == 0
    assert account_of(site) == "sarah.sells"
    assert "Sending as @sarah.sells" in site.card_text()


def test_a_thread_without_a_grid_and_an_e2ee_thread_are_read_too(site: Browser) -> None:
    site.open("/direct/e2ee/t/2002/")
    site.wait_verdict("not-contacted", "quiet.lead")
    site.go("/direct/t/1003/")
    site.wait_verdict("excluded", "no.thanks")


def test_a_group_thread_names_no_one(site: Browser) -> None:
    site.open("/direct/t/3003/")
    group = site.wait_verdict("group")
    assert group.get_attribute("data-handle") is None
    text = site.card_text()
    assert "Group conversation" in text
    for member in ("glow.skin", "quiet.lead", "no.thanks"):
        assert member not in text
    assert account_of(site) == "sarah.sells"
    # A send in a group offers nothing to record.
    box = site.page.locator(COMPOSER)
    box.click()
    site.page.keyboard.type("hi all")
    site.page.keyboard.press("Enter")
    site.page.wait_for_function("window.SENT.length === 1")
    site.page.wait_for_timeout(300)
    assert site.page.locator(f"{CARD} [data-sent]").count() == 0


def test_a_pane_that_renders_late_is_waited_for(site: Browser) -> None:
    site.open("/direct/t/late/")
    assert site.panel().get_attribute("data-state") == "loading"
    site.wait_verdict("not-contacted", "brand.new.lead")


HANDLES_SEEN = """() => {
  const root = document.querySelector('#dmledger-root').shadowRoot;
  window.seen = [];
  new MutationObserver(() => {
    const panel = root.querySelector('.panel');
    if (panel) window.seen.push([location.pathname, panel.getAttribute('data-handle'),
                                 panel.getAttribute('data-verdict')]);
  }).observe(root, { childList: true, subtree: true, attributes: true });
}"""


def test_after_in_app_navigation_the_old_pane_is_not_the_new_threads(site: Browser) -> None:
    page = site.page
    site.open("/direct/t/1001/")
    site.wait_verdict("contacted", "glow.skin")
    page.evaluate(HANDLES_SEEN)
    # Open the next thread from the inbox list, as the setter does: the old pane stays
    # on screen a moment after the URL changed.
    page.locator('[data-thread="1002"]').click()
    site.wait_verdict("not-contacted", "brand.new.lead")
    site.go("/direct/t/3003/")
    site.wait_verdict("group")
    site.go("/direct/t/1001/")
    site.wait_verdict("contacted", "glow.skin")
    wrong = [
        seen
        for seen in page.evaluate("window.seen")
        if seen[2] is not None
        and (
            (seen[0] == "/direct/t/1002/" and seen[1] != "brand.new.lead")
            or (seen[0] == "/direct/t/3003/" and seen[2] != "group")
            or (seen[0] == "/direct/t/1001/" and seen[1] != "glow.skin")
        )
    ]
    assert wrong == []
    # And a DM sent after the navigation is recorded for this lead and this account.
    site.go("/direct/t/1002/")
    site.wait_verdict("not-contacted", "brand.new.lead")
    type_in_composer(site, "after navigating")
    page.keyboard.press("Enter")
    page.click(f'{CARD} [data-action="log-sent"]')
    page.locator(f'{CARD} [data-sent="recorded"]').wait_for()
    [log] = local_logs(site, "brand.new.lead")
    assert log["message"] == "after navigating" and log["actor"] == "sarah.sells"
    assert local_logs(site, "glow.skin")[0]["message"] != "after navigating"


def type_in_composer(browser: Browser, text: str) -> None:
    browser.page.locator(COMPOSER).click()
    browser.page.keyboard.type(text)


def asks(browser: Browser) -> int:
    return int(browser.page.locator(f'{CARD} [data-sent="ask"]').count())


def test_a_send_is_noticed_by_enter_and_by_the_send_control_in_any_language(
    site: Browser, lang: str
) -> None:
    page = site.page
    site.open("/direct/t/1002/")
    site.wait_verdict("not-contacted", "brand.new.lead")
    type_in_composer(site, "first by Enter")
    page.keyboard.press("Enter")
    page.locator(f'{CARD} [data-sent="ask"]', has_text="first by Enter").wait_for()
    page.click(f'{CARD} [data-action="dismiss-sent"]')
    type_in_composer(site, "then by the button")
    page.get_by_role("button", name=SEND[lang], exact=True).click()
    page.locator(f'{CARD} [data-sent="ask"]', has_text="then by the button").wait_for()
    page.click(f'{CARD} [data-action="dismiss-sent"]')
    assert page.evaluate("window.SENT") == ["first by Enter", "then by the button"]


def test_what_is_not_a_send_offers_nothing(site: Browser) -> None:
    page = site.page
    site.open("/direct/t/1002/")
    site.wait_verdict("not-contacted", "brand.new.lead")
    box = page.locator(COMPOSER)
    # Shift+Enter is a new line.
    type_in_composer(site, "two")
    page.keyboard.press("Shift+Enter")
    # Enter while the mention list is open picks a name.
    page.keyboard.type(" @glo")
    page.locator("[role=listbox]").wait_for()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[role=textbox]').innerText.includes('@glow.skin')"
    )
    # Enter during IME composition belongs to the input method.
    box.dispatch_event("keydown", {"key": "Enter", "isComposing": True, "bubbles": True})
    # A click beside the composer that is not its send control (the emoji button).
    page.locator("[role=main] .bar [role=button]").first.click()
    page.wait_for_timeout(400)
    assert page.evaluate("window.SENT") == [] and asks(site) == 0
    # The text goes: now it is a send.
    page.keyboard.press("End")
    box.press("Enter")
    page.locator(f'{CARD} [data-sent="ask"]').wait_for()


def test_a_send_the_site_refused_offers_nothing(site: Browser, lang: str) -> None:
    page = site.page
    site.open("/direct/t/fails/")
    site.wait_verdict("not-contacted", "brand.new.lead")
    type_in_composer(site, "this one fails")
    page.keyboard.press("Enter")
    page.get_by_role("button", name=SEND[lang], exact=True).click()
    page.wait_for_timeout(600)
    assert asks(site) == 0 and "this one fails" in page.locator(COMPOSER).inner_text()


def test_a_teammates_account_on_the_page_is_the_one_credited(open_browser: Any, home: Path) -> None:
    seeded_home(home)
    browser: Browser = open_browser(home, account="marcus.closes", lang="es")
    browser.open("/direct/t/1002/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    assert account_of(browser) == "marcus.closes"
    assert "Sending as @marcus.closes (Marcus's account)" in browser.card_text()
    type_in_composer(browser, "hola")
    browser.page.keyboard.press("Enter")
    browser.page.click(f'{CARD} [data-action="log-sent"]')
    browser.page.locator(f'{CARD} [data-sent="recorded"]').wait_for()
    assert local_logs(browser, "brand.new.lead")[0]["actor"] == "marcus.closes"


def test_an_unknown_account_is_asked_about_then_registered(open_browser: Any, home: Path) -> None:
    seeded_home(home)
    browser: Browser = open_browser(home, account="fresh.account")
    page = browser.page
    browser.open("/direct/t/1002/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    assert account_of(browser) == ""
    ask = page.locator(f'{CARD} [data-part="account"]')
    assert "signed in as @fresh.account" in ask.inner_text()
    # A DM sent meanwhile is offered, but not recorded for a default account.
    type_in_composer(browser, "hello from fresh")
    page.keyboard.press("Enter")
    page.locator(f'{CARD} [data-sent="ask"]').wait_for()
    assert page.locator(f'{CARD} [data-action="log-sent"]').is_disabled()
    page.click(f'{CARD} [data-action="log-dm"]')
    assert page.locator(f"{CARD} select[name=actor]").input_value() == ""
    page.click(f'{CARD} [data-action="register-account"]')
    page.locator(f'{CARD} .panel[data-account="fresh.account"]').wait_for()
    assert "Sending as @fresh.account" in browser.card_text()
    assert page.locator(f"{CARD} select[name=actor]").input_value() == "fresh.account"
    page.click(f'{CARD} [data-action="log-sent"]')
    page.locator(f'{CARD} [data-sent="recorded"]').wait_for()
    [log] = local_logs(browser, "brand.new.lead")
    assert log["actor"] == "fresh.account" and log["message"] == "hello from fresh"
    ledger = browser.ledger()
    try:
        [actor] = [a for a in ledger.list_actors() if a.username == "fresh.account"]
        assert actor.owner_operator == "Sarah"
    finally:
        ledger.close()


def test_a_page_whose_account_cannot_be_read_asks_which_one(open_browser: Any, home: Path) -> None:
    seeded_home(home)
    browser: Browser = open_browser(home, account=None, lang="es")
    page = browser.page
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    assert account_of(browser) == ""
    assert "can't see which account" in browser.card_text()
    assert page.locator(f'{CARD} [data-action="register-account"]').count() == 0
    page.select_option(f'{CARD} select[name="account"]', "sarah.sells")
    page.click(f'{CARD} [data-action="choose-account"]')
    page.locator(f'{CARD} .panel[data-account="sarah.sells"]').wait_for()
    page.click(f'{CARD} [data-action="log-dm"]')
    assert page.locator(f"{CARD} select[name=actor]").input_value() == "sarah.sells"


def test_with_record_without_asking_a_dm_waits_for_its_account(
    open_browser: Any, home: Path
) -> None:
    from dmledger.native.install import EXTENSION_ID

    seeded_home(home)
    browser: Browser = open_browser(home, account="fresh.two", lang="es")
    page = browser.page
    options = browser.context.new_page()
    options.goto(f"chrome-extension://{EXTENSION_ID}/options.html")
    options.locator('[data-host-state="ok"]').wait_for()
    options.check("#auto-record")
    options.close()
    page.bring_to_front()
    browser.open("/direct/t/1002/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    type_in_composer(browser, "sent before registering")
    page.keyboard.press("Enter")
    page.locator(f'{CARD} [data-sent="ask"]').wait_for()
    assert local_logs(browser, "brand.new.lead") == []  # no account yet: nothing recorded
    page.click(f'{CARD} [data-action="register-account"]')
    page.locator(f'{CARD} [data-sent="recorded"]').wait_for()
    [log] = local_logs(browser, "brand.new.lead")
    assert log["actor"] == "fresh.two" and log["message"] == "sent before registering"
