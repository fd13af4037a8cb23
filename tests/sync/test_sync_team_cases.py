"""Issue 11: sync as a team uses it, several homes editing offline.

Each case lost data, brought deleted data back or gave a wrong answer without an
error before: a table-wide refusal set the whole queue aside, a factory reset went
unnoticed, edits jumped ahead of DMs, concurrent appends lost a line, a deletion lost
to an offline edit, and a wrong client clock decided ownership.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from syncworld import (
    FailingGateway,
    Team,
    assert_cache_equals_cloud,
    cloud_log_ids,
    cloud_logs,
    engine_for,
)
from typer.testing import CliRunner

from dmledger.app.ledger import Ledger
from dmledger.cli import app
from dmledger.cloud.tables import dmledger_info
from dmledger.domain.records import OutgoingLog
from dmledger.domain.timeutil import utcnow
from dmledger.errors import CloudSchemaError, CloudUnavailable, InvalidInput
from dmledger.sync.engine import RESET
from dmledger.sync.gateway import StoreGateway

SKEW = timedelta(hours=3)


def _cli(ledger: Ledger, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["--home", str(ledger.home), "--json", *args])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result


# -- 1. a refusal about the whole table stops the sync, queue intact -------------------


def test_a_missing_table_stops_the_sync_with_the_queue_intact_then_delivers_all(
    team: Team,
) -> None:
    ann = team.agent("Ann")
    ann.sync()
    ids = [ann.log_dm(f"lead.{i}", f"dm {i}")[0].client_log_id for i in range(8)]
    with team.cloud.transaction() as conn:
        conn.exec_driver_sql("ALTER TABLE outreach_logs RENAME TO outreach_logs_away")
    gateway = FailingGateway(StoreGateway(ann.cloud))

    with pytest.raises(CloudSchemaError, match="outreach_logs"):
        engine_for(ann, gateway).sync_once()

    assert gateway.calls == ["header", "push"], "one refused push, no bisection"
    status = ann.status(probe_cloud=False)
    assert (status.pending_logs, status.set_aside) == (8, [])
    assert status.last_error is not None and "table outreach_logs" in status.last_error
    with team.cloud.transaction() as conn:
        conn.exec_driver_sql("ALTER TABLE outreach_logs_away RENAME TO outreach_logs")
    report = ann.sync()
    assert (report.pushed_logs, report.set_aside) == (8, 0)
    assert cloud_log_ids(team.cloud) == dict.fromkeys(ids, 1)
    assert ann.status(probe_cloud=False).last_error is None
    assert_cache_equals_cloud(ann, team.cloud)


# -- 2. a reset of the cloud is noticed, whatever its clock says ------------------------


def test_a_reset_followed_by_more_changes_than_any_cache_saw_is_noticed(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    for i in range(4):
        bob.add_prospect(f"old.{i}", notes="before the reset")
    bob.sync()
    ann.sync()
    ann.log_dm("queued.before.reset", "hi")  # Ann's queued work must survive
    bob.cloud_reset()
    csv = bob.home / "leads.csv"
    csv.write_text("handle\n" + "".join(f"new.{i:02d}\n" for i in range(30)))
    _cli(bob, "import", str(csv))
    bob.sync()  # the new cloud's clock is now past Ann's cursor

    report = _cli(ann, "sync")

    assert report["full_resync"] is True and report["resync_reason"] == RESET
    handles = {p.handle for p in ann.list_prospects(_everything(), limit=100)}
    assert handles == {f"new.{i:02d}" for i in range(30)} | {"queued.before.reset"}
    assert len(cloud_log_ids(team.cloud)) == 1
    bob.sync()
    for ledger in (ann, bob):
        assert_cache_equals_cloud(ledger, team.cloud)
    text = CliRunner().invoke(app, ["--home", str(ann.home), "sync"]).output
    assert "reset or replaced" not in text, "said once, when it happened"


def _everything() -> Any:
    from dmledger.local.store import ProspectFilter

    return ProspectFilter()


def test_cloud_upgrade_keeps_the_identity_and_reset_makes_a_new_one(team: Team) -> None:
    first = team.cloud.info_value("cloud_id")
    assert first is not None and len(first) >= 32
    assert team.cloud.upgrade() == [] and team.cloud.info_value("cloud_id") == first
    team.cloud.reset()
    assert team.cloud.info_value("cloud_id") not in (None, first)


# -- 3. DMs and edits reach the cloud in the order they were made ------------------------


def test_a_status_set_back_to_new_after_a_dm_offline_stays_new(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.sync()
    ann.log_dm("oops.lead", "hi")
    ann.update_prospect("oops.lead", status="new")  # logged to the wrong lead: undo
    ann.add_prospect("later.lead")
    ann.log_dm("later.lead", "hello")
    ann.update_prospect("later.lead", status="warm")

    ann.sync()
    bob.sync()

    for ledger in (ann, bob):
        assert ledger.card("oops.lead").status == "new"
        assert ledger.card("later.lead").status == "warm"
        assert_cache_equals_cloud(ledger, team.cloud)


def test_a_mixed_journal_is_pushed_in_few_batches_not_one_per_item(team: Team) -> None:
    ann = team.agent("Ann")
    ann.sync()
    for i in range(50):
        ann.log_dm(f"lead.{i}", "hi")
        ann.update_prospect(f"lead.{i}", status="warm")
    gateway = FailingGateway(StoreGateway(ann.cloud))
    report = engine_for(ann, gateway).sync_once()
    assert (report.pushed_logs, report.pushed_edits) == (50, 50)
    assert gateway.calls.count("push") == 1
    assert all(ann.card(f"lead.{i}").status == "warm" for i in range(50))
    assert_cache_equals_cloud(ann, team.cloud)


# -- 4. appends merge; a replace wins and the loser is shown ------------------------------


def test_two_teammates_appending_offline_both_keep_their_line_once_in_time_order(
    team: Team,
) -> None:
    ann, bob, cara = team.agent("Ann"), team.agent("Bob"), team.agent("Cara")
    cara.add_prospect("busy.lead", notes="imported")
    cara.sync()
    ann.sync()
    bob.sync()
    ann.update_prospect("busy.lead", append_note="Ann: called, no answer")
    bob.update_prospect("busy.lead", append_note="Bob: sent the deck")

    bob.sync()  # the later line reaches the cloud first
    ann.sync()
    bob.sync()
    cara.sync()

    notes = cara.card("busy.lead").notes
    assert notes is not None
    lines = notes.split("\n")
    assert lines[0] == "imported"
    assert [line.split("] ", 1)[1] for line in lines[1:]] == [
        "Ann: called, no answer",
        "Bob: sent the deck",
    ]
    for ledger in (ann, bob, cara):
        assert ledger.card("busy.lead").notes == notes
        assert_cache_equals_cloud(ledger, team.cloud)


def test_a_replace_made_without_seeing_a_teammates_notes_wins_and_shows_what_it_replaced(
    team: Team,
) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.add_prospect("edited.lead", notes="first")
    ann.sync()
    bob.sync()
    ann.update_prospect("edited.lead", notes="Ann's summary")
    bob.update_prospect("edited.lead", notes="Bob's summary")

    ann.sync()
    bob.sync()  # last writer wins
    ann.sync()

    for ledger in (ann, bob):
        card = ledger.card("edited.lead")
        assert (card.notes, card.notes_replaced) == ("Bob's summary", "Ann's summary")
        assert any("replaced by a teammate's edit" in n for n in card.notices)
        assert_cache_equals_cloud(ledger, team.cloud)
    shown = _cli(ann, "prospect", "show", "edited.lead")
    assert shown["notes_replaced"] == "Ann's summary"
    # Ann resolves it, having seen both: the flag goes.
    ann.update_prospect("edited.lead", notes="both summaries")
    ann.sync()
    bob.sync()
    assert bob.card("edited.lead").notes_replaced is None


# -- 5. a deletion wins over concurrent edits --------------------------------------------


@pytest.mark.parametrize("first", ["delete", "edit"])
def test_a_delete_racing_an_offline_edit_leaves_nothing_of_the_notes(
    team: Team, first: str
) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    bob.add_prospect("gone.lead", notes="private details")
    bob.sync()
    ann.sync()
    ann.update_prospect("gone.lead", append_note="more details", status="warm")
    bob.delete_prospect("gone.lead")

    if first == "delete":
        bob.sync()
        report = ann.sync()
        assert report.dropped == 2
    else:
        ann.sync()
        bob.sync()
        ann.sync()
    bob.sync()

    for ledger in (ann, bob):
        card = ledger.card("gone.lead")
        assert (card.known, card.notes) == (False, None)
        assert_cache_equals_cloud(ledger, team.cloud)
    if first == "delete":
        notices = ann.card("gone.lead").notices
        assert len(notices) == 2 and all("deleted by a teammate" in n for n in notices)
        page = _web(ann, "/?q=gone.lead")
        assert page.count("deleted by a teammate") == 2, "on the Check page's card"
    # A DM after the deletion brings the lead back as a new contact, without old notes.
    ann.log_dm("gone.lead", "starting over")
    ann.sync()
    bob.sync()
    card = bob.card("gone.lead")
    assert (card.known, card.status, card.notes) == (True, "contacted", None)
    with team.cloud.reading() as conn:
        notes = conn.exec_driver_sql(
            "SELECT notes FROM prospects WHERE target_username = 'gone.lead'"
        ).scalar_one()
    assert notes is None


# -- 6. event times follow the cloud's clock ---------------------------------------------


def test_wrong_client_clocks_do_not_decide_who_owns_a_lead(team: Team) -> None:
    fast = team.agent("Ann", clock=lambda: utcnow() + SKEW)
    slow = team.agent("Bob", clock=lambda: utcnow() - SKEW)
    right = team.agent("Cara")
    for ledger in (fast, slow, right):
        ledger.sync()
    fast.log_dm("first.come", "Ann got here first")  # by the raw clock, 3 h "later"
    time.sleep(0.2)  # the offsets are measured to a few milliseconds
    right.log_dm("owned.lead", "Cara owns this one")
    right.sync()
    slow.sync()
    right.log_dm("first.come", "Cara, a little later")
    slow.log_dm("owned.lead", "Bob, later, with a clock 3 h behind")
    for ledger in (fast, slow, right, fast, slow, right):
        ledger.sync()

    for ledger in (fast, slow, right):
        assert ledger.card("first.come").owner_actor == "ann.dm"
        assert ledger.card("owned.lead").owner_actor == "cara.dm"
        assert_cache_equals_cloud(ledger, team.cloud)
    for handle in ("first.come", "owned.lead"):
        for log in cloud_logs(team.cloud, handle):
            assert abs(log["created_at"] - utcnow()) < timedelta(minutes=5), log


def test_a_dm_stamped_far_in_the_future_is_refused_for_that_row_with_the_reason(
    team: Team,
) -> None:
    ann = team.agent("Ann")
    ann.sync()
    ann.log_dm("on.time", "now")
    # `log` refuses a send time in the future (issue 13); a row already queued with one
    # (an older agent, another tool writing the queue) is the cloud's to refuse.
    with pytest.raises(InvalidInput, match="in the future"):
        ann.log_dm("time.traveller", "from tomorrow", at=utcnow() + timedelta(days=1))
    future = OutgoingLog(
        str(uuid.uuid4()),
        "time.traveller",
        "ann.dm",
        "Ann",
        "from tomorrow",
        utcnow() + timedelta(days=1),
    )
    with ann.local.transaction() as conn:
        ann.local.insert_log(conn, future)

    report = ann.sync()

    assert (report.pushed_logs, report.set_aside) == (1, 1)
    [aside] = ann.status(probe_cloud=False).set_aside
    assert aside.target == "time.traveller"
    assert re.search(r"ahead of the cloud's clock", aside.error), aside.error
    assert len(cloud_log_ids(team.cloud)) == 1


def test_the_clock_offset_is_measured_from_the_header_each_sync(team: Team) -> None:
    skew = {"now": SKEW}
    ann = team.agent("Ann", clock=lambda: utcnow() + skew["now"])
    ann.sync()
    assert abs(ann.now() - utcnow()) < timedelta(seconds=30)
    skew["now"] = -SKEW  # the machine's clock is changed between syncs
    ann.sync()
    assert abs(ann.now() - utcnow()) < timedelta(seconds=30)


def test_a_cloud_schema_newer_than_the_agent_stops_the_sync_with_the_queue_intact(
    team: Team,
) -> None:
    ann = team.agent("Ann")
    ann.sync()
    ann.log_dm("lead.a", "hi")
    with team.cloud.transaction() as conn:
        conn.execute(
            sa.update(dmledger_info)
            .where(dmledger_info.c.info_key == "schema_version")
            .values(info_value="99")
        )
    result = _cli(ann, "sync", code=1)
    assert "version 99" in result.output
    assert ann.status(probe_cloud=False).pending_logs == 1


def test_a_real_role_losing_and_regaining_insert_stops_then_delivers_every_dm(
    tmp_path: Path, pg_url: str, pg_admin_dsn: str, operator_role: str, operator_url: str
) -> None:
    lead, _ = Ledger.init_home(tmp_path / "lead", "Lena", cloud_url=pg_url, actor="lena.leads")
    lead.cloud_init()
    lead.cloud_grants("operator", operator_role, apply=True)
    agent, _ = Ledger.init_home(tmp_path / "op", "Omar", cloud_url=operator_url, actor="omar.dm")
    try:
        agent.sync()
        ids = [agent.log_dm(f"lead.{i}", f"dm {i}")[0].client_log_id for i in range(8)]
        schema = lead.cloud.current_schema()
        grant = f"INSERT ON {schema}.outreach_logs"
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(f"REVOKE {grant} FROM {operator_role}")

        refused = _cli(agent, "sync", code=1)

        assert "not allowed to INSERT into outreach_logs" in refused.output
        status = _cli(agent, "status")
        assert (status["pending_logs"], status["set_aside"]) == (8, [])
        assert "INSERT into outreach_logs" in status["last_error"]
        assert "INSERT into outreach_logs" in _web_sync_error(agent)
        assert cloud_log_ids(lead.cloud) == {}

        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(f"GRANT {grant} TO {operator_role}")
        report = _cli(agent, "sync")

        assert (report["pushed_logs"], report["set_aside"]) == (8, 0)
        assert cloud_log_ids(lead.cloud) == dict.fromkeys(ids, 1)
        assert _cli(agent, "status")["last_error"] is None
    finally:
        lead.close()
        agent.close()


def _web_sync_error(ledger: Ledger) -> str:
    """The web app's sync indicator text (``GET /api/v1/sync``), also on the page."""
    answer = json.loads(_web(ledger, "/api/v1/sync"))
    assert "outreach_logs" in _web(ledger, "/")
    error = answer["last_error"]
    assert error is not None
    return str(error)


def _web(ledger: Ledger, path: str) -> str:
    """GET ``path`` from the home's web app, in process (with the API token)."""
    import warnings

    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        # Starlette prefers the httpx2 package for its test client; httpx works the same.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    from dmledger import settings as config
    from dmledger.web.app import create_app

    token = config.api_token(ledger.home)
    web = create_app(ledger, token=token, run_sync_loop=False)
    with TestClient(web, base_url="http://127.0.0.1") as client:
        answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.text


# -- appends from three homes, in random orders (hypothesis) -----------------------------

_HOMES = ("Ann", "Bob", "Cara")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(st.sampled_from(_HOMES), min_size=1, max_size=6),
    sync_order=st.permutations(_HOMES),
    lost_reply=st.booleans(),
)
def test_three_homes_appending_offline_in_any_order_keep_every_line_once_in_time_order(
    team: Team, lines: list[str], sync_order: list[str], lost_reply: bool
) -> None:
    homes = {name: team.ledgers_by_name.get(name) or team.agent(name) for name in _HOMES}
    for name, ledger in homes.items():
        team.ledgers_by_name[name] = ledger
    team.example += 1
    handle = f"lead.{team.example}"
    homes["Cara"].add_prospect(handle, notes="imported")
    homes["Cara"].sync()
    for ledger in homes.values():
        ledger.sync()
    written = []
    for i, name in enumerate(lines):  # each home appends while offline
        homes[name].update_prospect(handle, append_note=f"line {i} from {name}")
        written.append(f"line {i} from {name}")

    for name in sync_order:
        ledger = homes[name]
        if lost_reply:  # the push commits, its reply is lost: pushed again next time
            gateway = FailingGateway(StoreGateway(ledger.cloud), fail_at={2: "after"})
            with contextlib.suppress(CloudUnavailable):
                engine_for(ledger, gateway).sync_once()
        ledger.sync()
    for ledger in homes.values():
        ledger.sync()

    notes = homes["Ann"].card(handle).notes
    assert notes is not None
    head, *entries = notes.split("\n")
    assert head == "imported"
    assert sorted(e.split("] ", 1)[1] for e in entries) == sorted(written), "each line once"
    stamps = [e[1 : e.index("]")] for e in entries]
    assert stamps == sorted(stamps), "in the order of their times"
    for ledger in homes.values():
        assert ledger.card(handle).notes == notes
        assert_cache_equals_cloud(ledger, team.cloud)


def test_dms_logged_before_the_first_sync_on_a_fast_clock_are_corrected_not_refused(
    team: Team,
) -> None:
    fast = team.agent("Ann", clock=lambda: utcnow() + SKEW)
    item, _card, _new = fast.log_dm("early.lead", "logged before any sync")
    assert item.sent_at - utcnow() > timedelta(hours=2), "raw clock: nothing measured yet"

    report = fast.sync()

    assert (report.pushed_logs, report.set_aside) == (1, 0)
    [log] = cloud_logs(team.cloud, "early.lead")
    assert abs(log["created_at"] - utcnow()) < timedelta(minutes=1)
    assert_cache_equals_cloud(fast, team.cloud)
