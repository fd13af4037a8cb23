"""When something is missing the card says what to do; when the page cannot be read it
says so (and the options page names the selector); many rapid navigations leave one
card, current, and nothing pending."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dmledger.native.install import EXTENSION_ID
from support.extension import CARD, UNREADABLE_WAIT_MS, Browser, seeded_home

pytestmark = pytest.mark.browser


def test_without_the_native_host_the_card_names_the_install_command(
    open_browser: Any, home: Path
) -> None:
    seeded_home(home)
    browser: Browser = open_browser(home, install=False)
    browser.open("/glow.skin/")
    browser.wait_verdict("unavailable", "glow.skin")
    text = browser.card_text()
    assert "not installed" in text
    assert browser.page.locator(f"{CARD} code").inner_text() == "dmledger browser install"


def test_a_home_not_set_up_says_which_command_sets_it_up(open_browser: Any, home: Path) -> None:
    browser: Browser = open_browser(home)  # installed for a home never initialised
    browser.open("/glow.skin/")
    browser.wait_verdict("unavailable", "glow.skin")
    fix = browser.page.locator(f"{CARD} code").inner_text()
    assert f"dmledger --home {home.resolve()} init" in fix or f"dmledger --home {home} init" in fix
    options = browser.context.new_page()
    options.goto(f"chrome-extension://{EXTENSION_ID}/options.html")
    options.locator('[data-host-state="ConfigError"]').wait_for()
    assert "init" in options.locator("#host-fix").inner_text()


def test_a_thread_whose_pane_has_no_heading_says_cant_read_this_page(
    browser: Browser,
) -> None:
    # The pane never shows its heading: the card waits for it (about 15 s), then says
    # so, naming the selector; it never takes a profile link from elsewhere.
    browser.open("/direct/t/broken/")
    browser.wait_verdict("unreadable", timeout=UNREADABLE_WAIT_MS)
    assert "Can't read this page" in browser.card_text()
    assert "paneHeading" in browser.card_text()
    options = browser.context.new_page()
    options.goto(f"chrome-extension://{EXTENSION_ID}/options.html")
    failed = options.locator('tr[data-selector="paneHeading"][data-result="failed"]')
    failed.wait_for()
    assert "h2" in failed.inner_text()
    for fine in ("main", "composer", "messageList", "navigation", "accountLink"):
        assert options.locator(f'tr[data-selector="{fine}"]').get_attribute("data-result") == "ok"


def test_a_thread_without_a_composer_is_unreadable_too(browser: Browser) -> None:
    browser.open("/direct/t/nocomposer/")
    browser.wait_verdict("unreadable", timeout=UNREADABLE_WAIT_MS)
    assert "composer" in browser.card_text()


def test_a_thread_read_after_an_unreadable_one_shows_its_lead(browser: Browser) -> None:
    browser.open("/direct/t/broken/")
    browser.wait_verdict("unreadable", timeout=UNREADABLE_WAIT_MS)
    browser.go("/direct/t/1001/")
    browser.wait_verdict("contacted", "glow.skin")


def pending_in_worker(browser: Browser) -> dict[str, Any]:
    """Ask the service worker how many host requests are unanswered."""
    options = browser.context.new_page()
    try:
        options.goto(f"chrome-extension://{EXTENSION_ID}/options.html")
        found: dict[str, Any] = options.evaluate(
            "() => new Promise(r => chrome.runtime.sendMessage({kind: 'pending'}, r))"
        )
    finally:
        options.close()
    return found


def test_a_thousand_rapid_navigations_leave_one_current_card_and_nothing_pending(
    browser: Browser,
) -> None:
    page = browser.page
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    nodes_after_one = page.evaluate(
        "() => document.querySelector('#dmledger-root').shadowRoot.querySelectorAll('*').length"
    )
    page.evaluate(
        """async () => {
          const paths = ["/glow.skin/", "/no.thanks/", "/direct/t/1002/", "/explore/",
                         "/quiet.lead/", "/sarah.sells/", "/direct/t/broken/"];
          for (let i = 0; i < 1000; i += 1) {
            window.spaGo(paths[i % paths.length]);
            if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
          }
          window.spaGo("/glow.skin/");
        }"""
    )
    browser.wait_verdict("contacted", "glow.skin")
    page.wait_for_timeout(2500)  # anything stale would land by now (each wait was cancelled)
    assert page.locator(f'{CARD} .panel[data-handle="glow.skin"]').count() == 1
    assert page.locator(f'{CARD} .panel[data-verdict="contacted"]').count() == 1
    assert page.evaluate("() => document.querySelectorAll('#dmledger-root').length") == 1
    nodes_now = page.evaluate(
        "() => document.querySelector('#dmledger-root').shadowRoot.querySelectorAll('*').length"
    )
    assert nodes_now == nodes_after_one
    assert pending_in_worker(browser) == {"pending": 0, "connected": True}
