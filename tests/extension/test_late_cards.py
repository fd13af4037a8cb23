"""Cards never go backwards: the team's card, answered late (a slow cloud), never
replaces a newer card of the same lead, and never undoes what the setter chose.

The host is the real one behind a relay that holds team-card replies back
(support/held_host.py); everything else is answered at once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from support import held_host
from support.extension import CARD, Browser, seeded_home

pytestmark = pytest.mark.browser

HOLD_S = 3.0

# Every status pill the card shows, in order, from the moment this is installed.
WATCH_STATUS = """() => {
  const root = document.querySelector('#dmledger-root').shadowRoot;
  window.statusLog = [];
  const note = () => {
    const pill = root.querySelector('.facts [data-status]');
    const now = pill ? pill.getAttribute('data-status') : null;
    if (now && window.statusLog[window.statusLog.length - 1] !== now) window.statusLog.push(now);
  };
  note();
  new MutationObserver(note).observe(root, { childList: true, subtree: true, attributes: true });
}"""


@pytest.fixture
def held(open_browser: Any, home: Path, tmp_path: Path) -> tuple[Browser, Path]:
    seeded_home(home)
    log = tmp_path / "let-go.log"
    browser: Browser = open_browser(home, launcher=held_host.launcher(home, HOLD_S, log))
    return browser, log


def wait_let_go(log: Path, count: int) -> None:
    """Until the relay has let ``count`` held team cards go to the browser."""
    deadline = time.monotonic() + 60
    while not (log.exists() and len(log.read_text().split()) >= count):
        assert time.monotonic() < deadline, "the held team cards never went out"
        time.sleep(0.05)


def team_card_shown(browser: Browser) -> None:
    found = browser.page.locator(f'{CARD} [data-part="dms"][data-team="yes"]')
    found.wait_for(state="attached", timeout=30000)
    browser.page.wait_for_timeout(300)  # the browser delivers what the relay let go


def test_a_team_card_asked_before_a_write_never_replaces_the_card_after_it(
    held: tuple[Browser, Path],
) -> None:
    browser, log = held
    page = browser.page
    browser.open("/quiet.lead/")
    browser.wait_verdict("not-contacted", "quiet.lead")
    page.evaluate(WATCH_STATUS)
    # Set the status while the team card asked for at page load is still held.
    page.select_option(f'{CARD} select[name="status"]', "warm")
    page.click(f'{CARD} [data-action="set-status"]')
    page.locator(f'{CARD} .facts [data-status="warm"]').wait_for()
    # Both held team cards (the page load's, with "new", then the write's) went out.
    wait_let_go(log, 2)
    team_card_shown(browser)
    assert page.evaluate("window.statusLog") == ["new", "warm"]
    assert page.locator(f"{CARD} .facts [data-status]").get_attribute("data-status") == "warm"


def test_a_status_picked_in_the_card_survives_a_team_card_arriving(
    held: tuple[Browser, Path],
) -> None:
    browser, log = held
    page = browser.page
    browser.open("/quiet.lead/")
    browser.wait_verdict("not-contacted", "quiet.lead")
    status = page.locator(f'{CARD} select[name="status"]')
    status.select_option("warm")
    # The setter waits before pressing the button; the team card lands meanwhile.
    wait_let_go(log, 1)
    team_card_shown(browser)
    assert status.input_value() == "warm"
    page.click(f'{CARD} [data-action="set-status"]')
    page.locator(f'{CARD} .facts [data-status="warm"]').wait_for()
    ledger = browser.ledger()
    try:
        assert ledger.card("quiet.lead").status == "warm"
    finally:
        ledger.close()


def test_a_note_being_typed_survives_a_team_card_arriving(held: tuple[Browser, Path]) -> None:
    browser, log = held
    page = browser.page
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    page.click(f'{CARD} [data-action="add-note"]')
    note = page.locator(f'{CARD} input[name="note"]')
    note.fill("Call on Fri")
    wait_let_go(log, 1)
    team_card_shown(browser)
    # Still there, still focused: the setter types on.
    page.keyboard.type("day")
    assert note.input_value() == "Call on Friday"
    page.click(f'{CARD} [data-action="submit-note"]')
    page.locator(f"{CARD} .notes", has_text="Call on Friday").wait_for()
