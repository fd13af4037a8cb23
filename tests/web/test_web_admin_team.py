"""The Admin page (people, cloud check, sync queue, factory reset) and the Team page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from web_support import BASE_URL, TestClient, flash_of, post_form

from dmledger import settings as config
from dmledger.app.demo import load_demo
from dmledger.app.ledger import Ledger
from dmledger.web.app import create_app


def set_aside_one(ledger: Ledger, handle: str) -> str:
    """Queue a DM and mark it refused by the cloud, as a sync would."""
    item, _card, _created = ledger.log_dm(handle, "Hi")
    with ledger.local.transaction() as conn:
        ledger.local.set_log_aside(conn, item.local_id, "value too large for column")
    return f"log:{item.local_id}"


def test_admin_lists_operators_and_actors_from_the_cloud(client: TestClient) -> None:
    page = client.get("/admin")
    assert page.status_code == 200
    for name in ("Sarah", "Marcus", "Priya", "sarah.sells", "marcus.closes", "priya.studio"):
        assert name in page.text
    assert "this machine's copy" not in page.text


def test_adding_an_operator_and_an_actor(client: TestClient, ledger: Ledger) -> None:
    added = post_form(client, "/admin/operators", {"name": "Dana"}, page="/admin")
    assert "Dana added" in flash_of(client, added)
    again = post_form(client, "/admin/operators", {"name": "Dana"}, page="/admin")
    assert "already there" in flash_of(client, again)
    actor = post_form(
        client, "/admin/actors", {"username": "@Dana.Does", "operator": "Dana"}, page="/admin"
    )
    assert "added" in flash_of(client, actor)
    assert any(a.username == "dana.does" for a in ledger.list_actors())


def test_changing_an_actor_status(client: TestClient, ledger: Ledger) -> None:
    response = post_form(client, "/admin/actors/priya.studio/status", {"status": "banned"})
    assert "banned" in flash_of(client, response)
    assert {a.username: a.status for a in ledger.list_actors()}["priya.studio"] == "banned"


def test_an_unknown_actor_status_is_refused(client: TestClient) -> None:
    response = post_form(
        client, "/admin/actors/priya.studio/status", {"status": "asleep", "next": "/admin"}
    )
    assert "'asleep'" in flash_of(client, response)


def test_cloud_check_shows_reachable_and_counts(client: TestClient) -> None:
    page = client.get("/admin", params={"check": "true"})
    assert 'id="cloud-result"' in page.text
    assert "sqlite" in page.text and ">yes<" in page.text
    result = page.text[page.text.index('id="cloud-result"') :]
    result = result[: result.index("</dl>")]
    for words in ("Teammates", "Accounts", "Leads", "DMs recorded", "Answers in"):
        assert f"<dt>{words}</dt>" in result
    assert "outreach" not in result and "0.0 ms" not in result
    assert re.search(r"data-round-trip>(under 1 ms|\d+(\.\d)? ms)<", result)


def test_set_aside_rows_can_be_retried(client: TestClient, ledger: Ledger) -> None:
    ref = set_aside_one(ledger, "stuck.one")
    page = client.get("/admin")
    assert ref in page.text and "value too large" in page.text
    response = post_form(client, "/admin/sync/retry", {}, page="/admin")
    assert "1 set-aside rows queued again" in flash_of(client, response)
    assert ledger.status(probe_cloud=False).set_aside == []


def test_a_set_aside_row_can_be_dropped(client: TestClient, ledger: Ledger) -> None:
    ref = set_aside_one(ledger, "stuck.two")
    response = post_form(client, "/admin/sync/drop", {"ref": ref}, page="/admin")
    assert "Dropped" in flash_of(client, response)
    assert ledger.status(probe_cloud=False).set_aside == []
    missing = post_form(client, "/admin/sync/drop", {"ref": ref, "next": "/admin"})
    assert "no set-aside" in flash_of(client, missing)


def test_factory_reset_needs_the_typed_word(client: TestClient, ledger: Ledger) -> None:
    refused = post_form(client, "/admin/reset", {"confirm": "reset", "next": "/admin"})
    assert "type RESET" in flash_of(client, refused)
    assert ledger.cloud.counts()["prospects"] > 0
    done = post_form(client, "/admin/reset", {"confirm": "RESET"}, page="/admin")
    assert "Factory reset done" in flash_of(client, done)
    assert ledger.cloud.counts()["prospects"] == 0
    assert (
        ledger.count_prospects(__import__("dmledger.local.store").local.store.ProspectFilter()) == 0
    )


def test_team_page_renders_every_chart(client: TestClient, ledger: Ledger) -> None:
    page = client.get("/team", params={"period": "all"})
    assert page.status_code == 200
    assert page.text.count("<svg") >= 5  # 4 pygal charts and the logo
    assert 'class="heatmap"' in page.text
    assert "Messages sent" in page.text


def test_team_page_filters_by_period_operator_and_actor(client: TestClient) -> None:
    for params in (
        {"period": "today"},
        {"period": "7d", "operator": "Marcus"},
        {"period": "30d", "actor": "sarah.sells"},
        {"period": "custom", "start": "2025-01-01", "end": "2027-12-31"},
    ):
        page = client.get("/team", params=params)
        assert page.status_code == 200, (params, page.text[:300])
        assert "<svg" in page.text


def test_team_page_explains_a_bad_filter(client: TestClient) -> None:
    page = client.get("/team", params={"period": "custom"})
    assert page.status_code == 422
    assert "start" in page.text
    backwards = client.get(
        "/team", params={"period": "custom", "start": "2029-01-02", "end": "2029-01-01"}
    )
    assert backwards.status_code == 422
    assert "starts on 2029-01-02, after its last day 2029-01-01" in backwards.text
    assert "T00:00" not in backwards.text and "exclusive" not in backwards.text


def test_team_page_shows_the_saved_report_with_its_age_when_offline(home: Path) -> None:
    online = Ledger(home, _init(home))
    load_demo(online, leads=40, dms=90)
    online.sync()
    token = config.api_token(home)
    with TestClient(create_app(online, token=token, run_sync_loop=False), base_url=BASE_URL) as c:
        fresh = c.get("/team")
    online.close()
    assert fresh.status_code == 200 and "offline" not in fresh.text
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    offline = Ledger(home, config.load(home).model_copy(update={"cloud_url": unreachable}))
    try:
        app = create_app(offline, token=token, run_sync_loop=False)
        with TestClient(app, base_url=BASE_URL) as c:
            cached = c.get("/team")
        assert cached.status_code == 200
        assert (
            "Saved report from" in cached.text and "ago" in cached.text
        ) or "just now" in cached.text
        assert cached.text.count("<svg") >= 5
    finally:
        offline.close()


def _init(home: Path) -> config.Settings:
    ledger, _ = Ledger.init_home(home, "Sarah", actor="sarah.sells")
    ledger.cloud_init()
    ledger.close()
    return config.load(home)


def _demo_team_page(home: Path) -> Any:
    """The Team page over the last 30 days of a synced demo team."""
    ledger = Ledger(home, _init(home))
    try:
        load_demo(ledger)
        ledger.sync()
        app = create_app(ledger, token=config.api_token(home), run_sync_loop=False)
        with TestClient(app, base_url=BASE_URL) as c:
            return c.get("/team", params={"period": "30d"})
    finally:
        ledger.close()


def test_the_follow_up_figures_read_like_the_others_and_say_which_days_they_list(
    home: Path,
) -> None:
    page = _demo_team_page(home)
    assert page.status_code == 200
    sent = re.search(r"<dt>Follow-ups sent</dt><dd>([^<]*)</dd>", page.text)
    assert sent is not None and re.fullmatch(r"\d{1,3}(,\d{3})+", sent.group(1)), sent
    # Thirty days of follow-ups, fourteen rows: the title says which.
    assert "the period's last 14 days" in page.text
    # On a phone every chart has its own drawing, shown instead of the laptop's.
    assert page.text.count('class="chart-draw chart-draw-narrow"') == 4


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_team_reply_rate_counts_each_lead_once(home: Path) -> None:
    """The headline reply rate is over the period's leads contacted, each lead once: the
    operators' rows count a lead that two operators messaged once for each."""
    page = _demo_team_page(home)
    assert page.status_code == 200
    contacted = re.search(r"<dt>Leads contacted</dt><dd>([\d,]+)", page.text)
    rate = re.search(
        r"<dt>Reply rate</dt><dd>([\d.]+)% <span[^>]*>([\d,]+) of ([\d,]+)</span>", page.text
    )
    assert contacted is not None and rate is not None, page.text[:2000]
    replied, leads = _number(rate.group(2)), _number(rate.group(3))
    assert leads == _number(contacted.group(1))
    assert 0 < replied < leads
    assert rate.group(1) == f"{100 * replied / leads:.1f}"
    # The demo team has leads messaged by two operators, so the operators' rows add up
    # to more leads than were contacted.
    table = re.search(r'id="rr-table-by_operator">.*?</tbody>', page.text, re.S)
    assert table is not None
    rows = re.findall(r'<th scope="row">[^<]*</th><td class="num">(\d+)</td>', table.group(0))
    assert len(rows) >= 2 and sum(int(n) for n in rows) > leads
