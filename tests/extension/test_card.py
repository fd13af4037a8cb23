"""The card in the page: each verdict, the site's in-app navigation, pages it must not
show on, and hostile text rendered inert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.extension import CARD, UNREADABLE_WAIT_MS, Browser

pytestmark = pytest.mark.browser


def test_a_profile_someone_on_the_team_messaged_says_by_whom_and_when(browser: Browser) -> None:
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    text = browser.card_text()
    assert "Already contacted" in text
    assert "by marcus.closes (Marcus) on" in text
    assert "Hey! Loved your last post" in text  # the last DMs
    assert browser.page.locator(f"{CARD} select[name=status]").input_value() == "contacted"


def test_a_profile_nobody_messaged_says_not_contacted(browser: Browser) -> None:
    browser.open("/Brand.New.Lead/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    assert "Nobody on the team has recorded a DM to @brand.new.lead" in browser.card_text()


def test_a_lead_in_the_ledger_not_yet_messaged_shows_its_notes(browser: Browser) -> None:
    browser.open("/quiet.lead/")
    browser.wait_verdict("not-contacted", "quiet.lead")
    text = browser.card_text()
    assert "In the ledger, not contacted yet" in text and "Found at the expo" in text


def test_an_excluded_lead_says_do_not_contact(browser: Browser) -> None:
    browser.open("/no.thanks/")
    browser.wait_verdict("excluded", "no.thanks")
    text = browser.card_text()
    assert "DO NOT CONTACT" in text and "Asked not to be contacted" in text
    assert browser.page.locator(f'{CARD} [data-action="exclude"]').count() == 0
    # Logging stays possible (with its confirmation), but not as the inviting button.
    log = browser.page.locator(f'{CARD} [data-action="log-dm"]')
    assert "primary" not in (log.get_attribute("class") or "")


def test_the_card_follows_in_app_navigation_between_profiles_and_into_a_thread(
    browser: Browser,
) -> None:
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    browser.go("/no.thanks/")
    browser.wait_verdict("excluded", "no.thanks")
    browser.go("/direct/t/1002/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    browser.go("/explore/")
    browser.page.locator(CARD).wait_for(state="hidden")
    browser.page.go_back()  # popstate, back into the thread
    browser.wait_verdict("not-contacted", "brand.new.lead")
    assert browser.page.locator(CARD).count() == 1
    assert browser.site.documents == 1  # all of it without a page load


@pytest.mark.parametrize(
    "path", ["/explore/", "/reels/", "/accounts/edit/", "/p/Cx1/", "/stories/glow.skin/1/",
             "/direct/inbox/", "/", "/%3Cscript%3E/"],
)  # fmt: skip
def test_no_card_on_pages_that_are_not_a_profile(browser: Browser, path: str) -> None:
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    browser.go(path)
    browser.page.locator(CARD).wait_for(state="hidden")
    assert browser.page.locator(f"{CARD} [data-verdict]").count() == 0


def test_no_card_on_the_setters_own_accounts(browser: Browser) -> None:
    browser.open("/sarah.sells/")
    browser.page.wait_for_timeout(800)
    assert browser.page.locator(f"{CARD} [data-verdict]").count() == 0
    browser.go("/marcus.closes/")  # a teammate's account is not Sarah's own: shown
    browser.wait_verdict("not-contacted", "marcus.closes")
    browser.go("/SARAH.SELLS/")
    browser.page.locator(CARD).wait_for(state="hidden")


HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def test_hostile_notes_and_header_text_are_rendered_as_text(browser: Browser) -> None:
    ledger = browser.ledger()
    try:
        ledger.update_prospect("quiet.lead", notes=HOSTILE)
        ledger.log_dm("quiet.lead", '"><svg onload=alert(3)>', actor="marcus.closes")
    finally:
        ledger.close()
    browser.site.threads["2001"] = {
        "lead": "quiet.lead",
        "title": HOSTILE,
        "messages": [["quiet.lead", "x<img src=y onerror=alert(4)>"]],
    }
    browser.open("/direct/t/2001/")
    browser.wait_verdict("contacted", "quiet.lead")
    assert HOSTILE in browser.card_text()
    assert '"><svg onload=alert(3)>' in browser.card_text()
    inside = browser.page.evaluate(
        "() => document.querySelector('#dmledger-root').shadowRoot"
        ".querySelectorAll('img, script, svg').length"
    )
    assert inside == 0
    browser.page.wait_for_timeout(300)  # a payload that ran would have opened a dialog


def test_the_card_lives_in_a_shadow_root_the_sites_styles_do_not_reach(browser: Browser) -> None:
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    browser.page.add_style_tag(
        content="* { color: rgb(255, 0, 0) !important; } div { display: none !important; }"
    )
    color: Any = browser.page.evaluate(
        "() => getComputedStyle(document.querySelector('#dmledger-root').shadowRoot"
        ".querySelector('.verdict strong')).color"
    )
    assert color != "rgb(255, 0, 0)"
    assert browser.page.locator(f"{CARD} .verdict").is_visible()


def test_the_card_can_be_dragged_and_stays_where_it_was_put(browser: Browser) -> None:
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    bar = browser.page.locator(f"{CARD} .bar")
    # The card renders again when the team's DMs arrive, replacing the bar: between the
    # two its box can read None, so ask again until it has one.
    box = None
    for _ in range(40):
        bar.wait_for(state="visible")
        box = bar.bounding_box()
        if box is not None:
            break
        browser.page.wait_for_timeout(50)
    assert box is not None
    mouse = browser.page.mouse
    mouse.move(box["x"] + 40, box["y"] + 10)
    mouse.down()
    mouse.move(200, 300, steps=5)
    mouse.up()
    moved = browser.page.locator(f"{CARD} .card").bounding_box()
    assert moved is not None and abs(moved["x"] - 160) < 3 and abs(moved["y"] - 290) < 3
    browser.page.wait_for_timeout(200)
    browser.open("/no.thanks/")
    browser.wait_verdict("excluded", "no.thanks")
    again = browser.page.locator(f"{CARD} .card").bounding_box()
    assert again is not None and abs(again["x"] - moved["x"]) < 3


def test_the_last_dms_include_the_teams_from_the_cloud(browser: Browser, tmp_path: Path) -> None:
    from dmledger.app.ledger import Ledger

    cloud = f"sqlite:///{browser.home / 'cloud.db'}"
    marcus, _ = Ledger.init_home(
        tmp_path / "marcus", "Marcus", actor="marcus.closes", cloud_url=cloud
    )
    try:
        marcus.log_dm("glow.skin", "Marcus, from his own machine")
        marcus.sync()
    finally:
        marcus.close()
    browser.open("/glow.skin/")
    team = browser.page.locator(f'{CARD} [data-part="dms"][data-team="yes"]')
    team.wait_for()
    assert "Marcus, from his own machine" in team.inner_text()
    assert "Hey! Loved your last post" in team.inner_text()


STAMPS = """() => { const host = document.querySelector('#dmledger-root');
  return [host.getAttribute('data-shown-at'), host.getAttribute('data-team-at')]; }"""
WATCH_STAMPS = """() => { const host = document.querySelector('#dmledger-root');
  window.stampLog = [];
  new MutationObserver((records) => { for (const r of records) {
    window.stampLog.push([r.attributeName, host.getAttribute(r.attributeName)]); } })
    .observe(host, { attributes: true, attributeFilter: ['data-shown-at', 'data-team-at'] });
}"""


def test_each_page_stamps_its_first_answer_and_the_teams_dms_once(browser: Browser) -> None:
    # What the benchmark reads (bench/figures_extension.py): data-shown-at when the
    # page's first answer is on screen, data-team-at when the team's DMs are merged in.
    browser.open("/glow.skin/")
    browser.page.locator(f"{CARD}[data-team-at]").wait_for(state="attached")
    browser.page.locator(f'{CARD} [data-part="dms"][data-team="yes"]').wait_for()
    shown, team = browser.page.evaluate(STAMPS)
    assert shown is not None and team is not None and int(shown) <= int(team)
    browser.page.evaluate(WATCH_STAMPS)
    browser.go("/quiet.lead/")
    browser.page.wait_for_function("window.stampLog.length >= 4")
    browser.wait_verdict("not-contacted", "quiet.lead")
    log = browser.page.evaluate("window.stampLog")
    # The navigation cleared both, the local card stamped the first, the team's card
    # the second, and re-rendering with the team's DMs did not stamp the first again.
    assert [name for name, _ in log] == [
        "data-shown-at",
        "data-team-at",
        "data-shown-at",
        "data-team-at",
    ], log
    assert log[0][1] is None and log[1][1] is None
    assert int(log[2][1]) <= int(log[3][1])
    # A problem is the page's answer too; it has no team's DMs to wait for.
    browser.page.evaluate("window.stampLog = []")
    browser.go("/direct/t/broken/")
    browser.wait_verdict("unreadable", timeout=UNREADABLE_WAIT_MS)
    shown, team = browser.page.evaluate(STAMPS)
    assert shown is not None and team is None
    assert [name for name, _ in browser.page.evaluate("window.stampLog")] == [
        "data-shown-at",
        "data-team-at",
        "data-shown-at",
    ]


def test_in_a_narrow_window_the_card_leaves_the_lower_part_of_the_page_free(
    browser: Browser,
) -> None:
    ledger = browser.ledger()
    try:
        ledger.update_prospect("glow.skin", append_note="Asked about prices\n" * 6)
    finally:
        ledger.close()
    browser.page.set_viewport_size({"width": 390, "height": 600})
    browser.open("/glow.skin/")
    browser.wait_verdict("contacted", "glow.skin")
    box = browser.page.locator(f"{CARD} .card").bounding_box()
    # Instagram's composer is at the bottom of a thread: the card must stop above it.
    assert box is not None and box["y"] + box["height"] <= 600 - 140, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
