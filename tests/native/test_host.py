"""The native host alone: requests and replies, bad input, concurrency, kills."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dmledger.app.ledger import Ledger
from dmledger.native.framing import MAX_REQUEST_BYTES
from support.native_host import HostProcess


def test_hello_names_the_operator_and_their_own_accounts(host: HostProcess) -> None:
    reply = host.ask({"id": 1, "type": "hello"})
    assert reply["ok"] is True and reply["id"] == 1
    hello = reply["hello"]
    assert hello["operator"] == "Sarah"
    assert hello["actor"] == "sarah.sells"
    assert hello["own_actors"] == ["sarah.alt", "sarah.sells"]
    assert "marcus.closes" in hello["actors"]
    assert hello["statuses"][0] == "new" and "excluded" in hello["statuses"]


@pytest.mark.parametrize(
    ("handle", "verdict", "owner"),
    [
        ("https://www.instagram.com/Glow.Skin/", "contacted", "marcus.closes"),
        ("someone.new", "not-contacted", None),
        ("@no.thanks", "excluded", None),
    ],
)
def test_the_card_carries_the_verdict_of_the_check_page(
    host: HostProcess, handle: str, verdict: str, owner: str | None
) -> None:
    reply = host.ask({"id": 5, "type": "card", "handle": handle})
    assert reply["ok"] is True, reply
    assert reply["card"]["verdict"] == verdict
    assert reply["card"]["owner_actor"] == owner


def test_writes_go_through_the_ledger_and_come_back_as_the_card(
    host: HostProcess, ready_home: Path
) -> None:
    logged = host.ask(
        {"id": 1, "type": "log_dm", "handle": "new.person", "message": "hi", "client_log_id": "a1"}
    )
    assert logged["ok"] and logged["created"] is True
    assert logged["card"]["verdict"] == "contacted" and logged["card"]["pending_sync"] is True
    again = host.ask(
        {"id": 2, "type": "log_dm", "handle": "new.person", "message": "hi", "client_log_id": "a1"}
    )
    assert again["ok"] and again["created"] is False
    status = host.ask({"id": 3, "type": "set_status", "handle": "new.person", "status": "warm"})
    assert status["card"]["status"] == "warm"
    noted = host.ask({"id": 4, "type": "add_note", "handle": "unknown.one", "note": "met at expo"})
    assert noted["ok"] and "met at expo" in noted["card"]["notes"]
    excluded = host.ask(
        {"id": 5, "type": "set_status", "handle": "other.one", "status": "excluded"}
    )
    assert excluded["card"]["verdict"] == "excluded"
    host.close()
    ledger = Ledger.open(ready_home)
    try:
        assert ledger.card("new.person").status == "warm"
        assert len(ledger.card("new.person").recent_logs) == 1
        assert ledger.card("other.one").status == "excluded"
    finally:
        ledger.close()


def test_a_dm_to_an_excluded_lead_needs_force(host: HostProcess) -> None:
    refused = host.ask({"id": 1, "type": "log_dm", "handle": "no.thanks", "message": "hi"})
    assert refused["ok"] is False
    assert refused["error"]["type"] == "ExcludedProspect"
    assert "no.thanks" in refused["error"]["message"]
    forced = host.ask(
        {"id": 2, "type": "log_dm", "handle": "no.thanks", "message": "hi", "force": True}
    )
    assert forced["ok"] is True and forced["card"]["verdict"] == "excluded"


@pytest.mark.parametrize(
    ("message", "kind", "words"),
    [
        ({"id": 1, "type": "launch_missiles"}, "malformed", "type"),
        ({"id": 1, "type": "card"}, "malformed", "handle"),
        ({"id": 1, "type": "card", "handle": "x", "extra": 1}, "malformed", "extra"),
        ({"id": "one", "type": "hello"}, "malformed", "id"),
        ([1, 2, 3], "malformed", "request"),
        ({"id": 1, "type": "card", "handle": "not a handle!"}, "InvalidInput", "handle"),
        (
            {"id": 1, "type": "set_status", "handle": "a.b", "status": "nope"},
            "InvalidInput",
            "nope",
        ),
        ({"id": 1, "type": "log_dm", "handle": "a.b", "message": "  "}, "InvalidInput", "empty"),
        ({"id": 1, "type": "reply", "handle": "no way!"}, "InvalidInput", "no way!"),
        ({"id": 1, "type": "reply", "handle": "a.b", "at": "2026"}, "malformed", "reply.at"),
        ({"id": 1, "type": "reply", "handle": "a.b", "reply_id": "a b"}, "InvalidInput", "a b"),
    ],
)
def test_bad_requests_get_an_error_reply_naming_the_problem(
    host: HostProcess, message: object, kind: str, words: str
) -> None:
    reply = host.ask(message)
    assert reply["ok"] is False
    assert reply["error"]["type"] == kind, reply
    assert words in reply["error"]["message"]
    assert host.ask({"id": 9, "type": "hello"})["ok"] is True  # and it goes on


def test_malformed_and_oversized_frames_never_crash_or_print_a_traceback(
    host: HostProcess,
) -> None:
    host.send_raw(struct.pack("=I", 7) + b"{nope!}")
    assert host.receive()["error"]["type"] == "malformed"
    host.send_raw(struct.pack("=I", 3) + b"\xff\xfe\xfd")
    assert host.receive()["error"]["type"] == "malformed"
    size = MAX_REQUEST_BYTES * 2
    host.send_raw(struct.pack("=I", size) + b" " * size)
    big = host.receive()
    assert big["ok"] is False and big["error"]["type"] == "too_large"
    assert big["id"] is None
    assert host.ask({"id": 3, "type": "card", "handle": "glow.skin"})["ok"] is True
    code, rest, errors = host.close()
    assert code == 0 and rest == b""
    assert b"Traceback" not in errors


def test_pipelined_requests_are_answered_in_order_by_id(host: HostProcess) -> None:
    host.send_all([{"id": n, "type": "card", "handle": f"lead.{n % 7}"} for n in range(200)])
    replies = [host.receive() for _ in range(200)]
    assert [r["id"] for r in replies] == list(range(200))
    assert all(r["ok"] for r in replies)


def test_two_hosts_writing_the_same_home_at_once_lose_nothing(ready_home: Path) -> None:
    hosts = [HostProcess(ready_home), HostProcess(ready_home)]
    try:
        for index, found in enumerate(hosts):
            found.send_all(
                [
                    {
                        "id": number,
                        "type": "log_dm",
                        "handle": f"lead.{number % 10}",
                        "message": f"from host {index}, dm {number}",
                        "client_log_id": f"h{index}-{number}",
                    }
                    for number in range(100)
                ]
            )
        for found in hosts:
            replies = [found.receive() for _ in range(100)]
            assert all(r["ok"] and r["created"] for r in replies), replies[:3]
    finally:
        for found in hosts:
            found.kill()
    ledger = Ledger.open(ready_home)
    try:
        with ledger.local.reading() as conn:
            ids = set(conn.execute(sa.text("SELECT client_log_id FROM outreach_logs")).scalars())
    finally:
        ledger.close()
    assert {f"h{i}-{n}" for i in (0, 1) for n in range(100)} <= ids


def test_killed_mid_request_nothing_is_half_written(ready_home: Path) -> None:
    rng = random.Random(9)
    acknowledged: set[str] = set()
    for trial in range(5):
        found = HostProcess(ready_home)
        try:
            found.send_all(
                [
                    {
                        "id": number,
                        "type": "log_dm",
                        "handle": f"kill.{number}",
                        "message": "x" * 5000,
                        "client_log_id": f"t{trial}-{number}",
                    }
                    for number in range(60)
                ]
            )
            for _ in range(rng.randrange(1, 30)):
                reply = found.receive()
                assert reply["ok"], reply
                acknowledged.add(f"t{trial}-{reply['id']}")
            found.process.send_signal(signal.SIGKILL)
        finally:
            found.kill()
    connection = sqlite3.connect(ready_home / "local_data.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = connection.execute(
            "SELECT client_log_id, target_username, message_snippet FROM outreach_logs "
            "WHERE client_log_id LIKE 't%'"
        ).fetchall()
        leads = dict(connection.execute("SELECT target_username, status FROM prospects").fetchall())
    finally:
        connection.close()
    recorded = {row[0] for row in rows}
    assert acknowledged <= recorded  # every answered write is there
    for _log_id, target, message in rows:
        assert message == "x" * 5000  # whole, never cut
        assert leads[target] == "contacted"  # and its lead changed with it


def test_a_home_that_is_not_set_up_says_which_command_fixes_it(home: Path) -> None:
    found = HostProcess(home)
    try:
        reply = found.ask({"id": 1, "type": "hello"})
        assert reply["ok"] is False and reply["error"]["type"] == "ConfigError"
        assert "dmledger --home" in reply["error"]["fix"] and "init" in reply["error"]["fix"]
        Ledger.init_home(home, "Sarah", actor="sarah.sells")[0].close()
        assert found.ask({"id": 2, "type": "hello"})["ok"] is True  # found once set up
    finally:
        found.kill()


def cloud_count(home: Path, client_log_id: str, *, wait: float = 60) -> int:
    """How many cloud rows carry ``client_log_id``, polling until one does (or ``wait``)."""
    cloud = sa.create_engine(f"sqlite:///{home / 'cloud.db'}")
    deadline = time.monotonic() + wait
    count = 0
    try:
        while time.monotonic() < deadline:
            with cloud.connect() as conn:
                count = conn.execute(
                    sa.text("SELECT count(*) FROM outreach_logs WHERE client_log_id = :id"),
                    {"id": client_log_id},
                ).scalar_one()
            if count:
                break
            time.sleep(0.2)
    finally:
        cloud.dispose()
    return int(count)


def log_request(client_log_id: str) -> dict[str, object]:
    return {
        "id": 1,
        "type": "log_dm",
        "handle": "synced.soon",
        "message": "hello",
        "client_log_id": client_log_id,
    }


def test_a_write_schedules_a_sync_that_delivers_it_to_the_cloud(ready_home: Path) -> None:
    found = HostProcess(ready_home)
    try:
        assert found.ask(log_request("s1"))["ok"]
        assert cloud_count(ready_home, "s1") == 1
        # The host answered at once: it did not wait for the sync.
        assert found.ask({"id": 2, "type": "hello"})["ok"]
    finally:
        found.kill()


def cloud_replies(home: Path, handle: str, *, wait: float = 60) -> int:
    """How many replies the cloud holds for ``handle``, polling until one is there."""
    cloud = sa.create_engine(f"sqlite:///{home / 'cloud.db'}")
    deadline = time.monotonic() + wait
    count = 0
    try:
        while not count and time.monotonic() < deadline:
            with cloud.connect() as conn:
                count = conn.execute(
                    sa.text("SELECT count(*) FROM prospect_replies WHERE target_username = :h"),
                    {"h": handle},
                ).scalar_one()
            time.sleep(0.2)
    finally:
        cloud.dispose()
    return int(count)


def test_a_reply_from_the_card_is_the_reply_use_case_and_reaches_the_cloud_once(
    ready_home: Path,
) -> None:
    found = HostProcess(ready_home)
    try:
        logged = {**log_request("r1"), "handle": "fresh.lead"}
        assert found.ask(logged)["ok"]
        replied = found.ask({"id": 2, "type": "reply", "handle": "@Fresh.Lead"})
        assert replied["ok"] is True and replied["id"] == 2, replied
        assert replied["was_contacted"] is True
        card = replied["card"]
        assert (card["handle"], card["status"], card["pending_sync"]) == (
            "fresh.lead",
            "warm",
            True,
        )
        stranger = found.ask({"id": 3, "type": "reply", "handle": "wrote.first"})
        assert stranger["was_contacted"] is False and stranger["card"]["known"] is True
        # The host scheduled a sync after the write: the reply reaches the cloud once.
        assert cloud_replies(ready_home, "fresh.lead") == 1
        assert cloud_replies(ready_home, "wrote.first") == 1
    finally:
        found.kill()
    ledger = Ledger.open(ready_home)
    try:
        assert ledger.followups.today().items == []  # a reply stops the follow-ups
        ledger.sync()
    finally:
        ledger.close()
    assert cloud_replies(ready_home, "fresh.lead") == 1


def test_nothing_but_frames_reach_stdout(host: HostProcess) -> None:
    host.ask({"id": 1, "type": "hello"})
    code, rest, _errors = host.close()
    assert code == 0 and rest == b""
    json.dumps(rest.decode())


def test_the_arguments_chrome_passes_on_windows_are_accepted(ready_home: Path) -> None:
    body = json.dumps({"id": 1, "type": "hello"}).encode()
    done = subprocess.run(
        [
            sys.executable, "-m", "dmledger", "--home", str(ready_home), "native-host",
            "chrome-extension://abc/", "--parent-window=0",
        ],
        input=struct.pack("=I", len(body)) + body,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout[4:])["ok"] is True


def test_a_sync_held_by_another_process_delays_the_hosts_sync_but_does_not_lose_it(
    ready_home: Path,
) -> None:
    from dmledger.sync.lock import sync_lock

    found = HostProcess(ready_home)
    try:
        with sync_lock(ready_home):  # what `dmledger serve` holds while it syncs
            assert found.ask(log_request("s2"))["ok"]
            # Long enough for the host's first `dmledger sync` to start and be refused.
            assert cloud_count(ready_home, "s2", wait=3.0) == 0
        assert cloud_count(ready_home, "s2") == 1  # and tried again
    finally:
        found.kill()


def test_a_team_card_merges_the_teams_dms_from_the_cloud(ready_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "marcus"
    ledger, _ = Ledger.init_home(
        other, "Marcus", actor="marcus.closes", cloud_url=f"sqlite:///{ready_home / 'cloud.db'}"
    )
    try:
        # A minute after the home's own DM: an SQLite cloud's clock has whole seconds, so
        # two DMs at "now" a moment apart can swap once each home corrects its clock.
        later = ledger.now() + timedelta(minutes=1)
        ledger.log_dm("glow.skin", "Marcus's follow-up from his machine", at=later)
        ledger.sync()
    finally:
        ledger.close()
    found = HostProcess(ready_home)
    try:
        found.send({"id": 1, "type": "card", "handle": "glow.skin", "team": True})
        found.send({"id": 2, "type": "card", "handle": "glow.skin"})
        replies = {r["id"]: r for r in (found.receive(), found.receive())}
    finally:
        found.kill()
    team = replies[1]["card"]
    assert team["team_dms"] == "included" and team["team_error"] is None
    messages = [e["message"] for e in team["recent_logs"]]
    assert messages == ["Marcus's follow-up from his machine", "Hey!"]  # newest first, once each
    assert [e["local"] for e in team["recent_logs"]] == [False, True]
    # Without ``team`` the card is this machine's only.
    assert [x["message"] for x in replies[2]["card"]["recent_logs"]] == ["Hey!"]


def test_an_unreachable_cloud_leaves_the_team_card_local_and_says_so(home: Path) -> None:
    ledger, _ = Ledger.init_home(
        home, "Sarah", actor="sarah.sells", cloud_url="postgresql+psycopg://postgres@127.0.0.1:9/x"
    )
    try:
        ledger.log_dm("lead.one", "offline hello")
    finally:
        ledger.close()
    found = HostProcess(home)
    try:
        first = found.ask({"id": 1, "type": "card", "handle": "lead.one", "team": True})
        again = found.ask({"id": 2, "type": "card", "handle": "lead.one", "team": True})
    finally:
        found.kill()
    for answer in (first, again):  # the second without trying the cloud again
        assert answer["ok"] is True
        assert answer["card"]["team_dms"] == "unavailable"
        assert "could not be read from the cloud" in answer["card"]["team_error"]
        assert [e["message"] for e in answer["card"]["recent_logs"]] == ["offline hello"]
        assert "postgres" not in json.dumps(answer)  # no database details reach the page


def test_the_host_opens_the_home_before_the_first_request_comes(ready_home: Path) -> None:
    """The browser starts the host when it starts: the home is opened then, while the
    first page still loads, not when that page asks."""
    from dmledger.native.host import Host
    from dmledger.native.protocol import Hello

    host = Host(ready_home)
    try:
        host.prepare()
        assert host._ledger is not None
        assert host.answer(Hello(id=1, type="hello"))["hello"]["operator"] == "Sarah"
    finally:
        host.close()


def test_preparing_a_home_not_set_up_leaves_the_reason_to_the_first_request(home: Path) -> None:
    from dmledger.native.host import Host
    from dmledger.native.protocol import Hello

    host = Host(home)
    host.prepare()  # says nothing, raises nothing
    reply = host.answer(Hello(id=1, type="hello"))
    assert reply["ok"] is False and reply["error"]["type"] == "ConfigError"
    assert "init" in reply["error"]["fix"]


def test_add_actor_registers_the_pages_account_as_this_teammates(
    host: HostProcess, ready_home: Path
) -> None:
    added = host.ask({"id": 1, "type": "add_actor", "actor": "@Sarah.Third"})
    assert added["ok"] is True and added["created"] is True, added
    assert "sarah.third" in added["hello"]["own_actors"]
    assert added["hello"]["owners"]["sarah.third"] == "Sarah"
    assert added["hello"]["owners"]["marcus.closes"] == "Marcus"
    again = host.ask({"id": 2, "type": "add_actor", "actor": "sarah.third"})
    assert again["ok"] is True and again["created"] is False
    # The rule of `dmledger actor add`: the same refusal, naming the value.
    bad = host.ask({"id": 3, "type": "add_actor", "actor": "not a handle!"})
    assert bad["ok"] is False and bad["error"]["type"] == "InvalidInput", bad
    cli = subprocess.run(
        [sys.executable, "-m", "dmledger", "--home", str(ready_home), "actor", "add",
         "not a handle!"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 1 and bad["error"]["message"] in cli.stderr
    host.close()
    ledger = Ledger.open(ready_home)
    try:
        assert any(a.username == "sarah.third" for a in ledger.list_actors())
    finally:
        ledger.close()
