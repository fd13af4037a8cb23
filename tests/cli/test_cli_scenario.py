"""The issue's "done when" scenario, and the JSON the CLI contract promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Cli, initialised, run_script

from dmledger.cloud.tables import SCHEMA_VERSION


@pytest.fixture
def cli(home: Path) -> Cli:
    """A CLI on a fresh, not yet initialised home."""
    return Cli(home)


@pytest.fixture
def team(home: Path) -> Cli:
    """A CLI on a home initialised for Sarah on an embedded cloud."""
    return initialised(home)


CARD_FIELDS = {
    "handle",
    "status",
    "contacted",
    "owner_actor",
    "owner_operator",
    "first_contacted",
    "last_updated",
    "notes",
    "recent_logs",
}
LIST_FIELDS = {"handle", "status", "owner_actor", "notes", "first_contacted", "last_updated"}
STATUS_FIELDS = {"pending_logs", "pending_changes", "last_sync_at", "last_error", "cloud_reachable"}


def test_the_done_when_scenario_in_process(cli: Cli) -> None:
    home = cli.home
    cli.ok(
        "init",
        "--operator",
        "Sarah",
        "--cloud",
        f"sqlite:///{home}/cloud.db",
        "--actor",
        "sarah.sells",
    )
    cli.ok("cloud", "init")
    cli.ok("prospect", "add", "@Foo.Bar")
    cli.ok("log", "--to", "https://www.instagram.com/foo.bar/", "--message", "hi 👋")
    shown = cli.ok("prospect", "show", "foo.bar", "--json")
    card = json.loads(shown.stdout)
    assert card["status"] == "contacted"
    assert card["owner_actor"] == "sarah.sells"
    assert card["contacted"] is True
    assert set(card) >= CARD_FIELDS
    assert card["handle"] == "foo.bar"
    assert card["owner_operator"] == "Sarah"
    assert [log["message"] for log in card["recent_logs"]] == ["hi 👋"]


def test_the_done_when_scenario_through_the_installed_script(home: Path) -> None:
    cloud = f"sqlite:///{home}/cloud.db"
    steps = [
        ["init", "--operator", "Sarah", "--cloud", cloud, "--actor", "sarah.sells"],
        ["cloud", "init"],
        ["prospect", "add", "@Foo.Bar"],
        ["log", "--to", "https://www.instagram.com/foo.bar/", "--message", "hi 👋"],
    ]
    for step in steps:
        done = run_script("--home", str(home), *step)
        assert done.returncode == 0, done.stderr
    shown = run_script("--home", str(home), "prospect", "show", "foo.bar", "--json")
    assert shown.returncode == 0, shown.stderr
    card = json.loads(shown.stdout)
    assert (card["status"], card["owner_actor"], card["contacted"]) == (
        "contacted",
        "sarah.sells",
        True,
    )


def test_json_is_accepted_before_the_command_as_well(team: Cli) -> None:
    team.ok("prospect", "add", "foo.bar")
    before = json.loads(team.ok("--json", "prospect", "show", "foo.bar").stdout)
    after = json.loads(team.ok("prospect", "show", "foo.bar", "--json").stdout)
    assert before == after


def test_a_message_that_reads_json_is_recorded_as_text(team: Cli) -> None:
    team.ok("log", "--to", "foo.bar", "--message", "--json")
    card = json.loads(team.ok("--json", "prospect", "show", "foo.bar").stdout)
    assert card["recent_logs"][0]["message"] == "--json"


def test_prospect_list_json_has_the_contracts_fields(team: Cli) -> None:
    team.ok("prospect", "add", "b.lead", "--status", "warm", "--notes", "likes yoga")
    team.ok("log", "--to", "a.lead", "--message", "hi")
    listed = json.loads(team.ok("prospect", "list", "--json").stdout)
    assert [p["handle"] for p in listed] == ["a.lead", "b.lead"]
    for item in listed:
        assert set(item) >= LIST_FIELDS
    assert listed[1]["notes"] == "likes yoga"
    assert listed[0]["owner_actor"] == "sarah.sells"
    warm = json.loads(team.ok("--json", "prospect", "list", "--status", "Warm").stdout)
    assert [p["handle"] for p in warm] == ["b.lead"]
    page = json.loads(
        team.ok("--json", "prospect", "list", "--limit", "1", "--after", "a.lead").stdout
    )
    assert [p["handle"] for p in page] == ["b.lead"]
    found = json.loads(team.ok("--json", "prospect", "list", "--search", "yoga").stdout)
    assert [p["handle"] for p in found] == ["b.lead"]


def test_status_json_has_the_contracts_fields(team: Cli) -> None:
    team.ok("log", "--to", "foo.bar", "--message", "hi")
    status = json.loads(team.ok("status", "--json").stdout)
    assert set(status) >= STATUS_FIELDS
    assert (status["pending_logs"], status["cloud_reachable"], status["last_sync_at"]) == (
        1,
        True,
        None,
    )
    team.ok("sync")
    synced = json.loads(team.ok("--json", "status").stdout)
    assert synced["pending_logs"] == 0
    assert synced["pending_changes"] == 0
    assert synced["last_sync_at"].endswith("Z")
    assert synced["last_error"] is None


def test_prospect_set_and_delete_round_trip(team: Cli) -> None:
    team.ok("prospect", "add", "foo.bar")
    changed = json.loads(
        team.ok("--json", "prospect", "set", "foo.bar", "--status", "hot", "--notes", "n").stdout
    )
    assert (changed["status"], changed["notes"]) == ("hot", "n")
    team.ok("prospect", "delete", "foo.bar", "--yes")
    gone = json.loads(team.ok("--json", "prospect", "show", "foo.bar").stdout)
    assert (gone["known"], gone["contacted"]) == (False, False)


def test_log_uses_the_actor_from_init_unless_told_otherwise(team: Cli) -> None:
    team.ok("actor", "add", "sarah.growth")
    team.ok("log", "--to", "a.lead", "--message", "hi")
    team.ok("log", "--to", "b.lead", "--message", "hi", "--actor", "sarah.growth")
    listed = json.loads(team.ok("--json", "prospect", "list").stdout)
    assert [(p["handle"], p["owner_actor"]) for p in listed] == [
        ("a.lead", "sarah.sells"),
        ("b.lead", "sarah.growth"),
    ]


def test_log_at_a_past_time_with_an_offset_is_stored_in_utc(team: Cli) -> None:
    team.ok("log", "--to", "foo.bar", "--message", "hi", "--at", "2026-01-02T10:00:00+02:00")
    card = json.loads(team.ok("--json", "prospect", "show", "foo.bar").stdout)
    assert card["first_contacted"] == "2026-01-02T08:00:00.000000Z"


def test_people_and_cloud_commands_act_on_the_cloud(team: Cli) -> None:
    team.ok("operator", "add", "Marcus")
    team.ok("actor", "add", "marcus.closes", "--operator", "Marcus")
    team.ok("actor", "set-status", "marcus.closes", "restricted")
    assert json.loads(team.ok("--json", "operator", "list").stdout) == ["Marcus"]
    actors = json.loads(team.ok("--json", "actor", "list").stdout)
    assert actors == [{"username": "marcus.closes", "operator": "Marcus", "status": "restricted"}]
    check = json.loads(team.ok("--json", "cloud", "check").stdout)
    assert (check["reachable"], check["schema_version"]) == (True, SCHEMA_VERSION)
    assert check["counts"]["actors"] == 1


def test_cloud_ddl_prints_the_schema_for_each_dialect(cli: Cli) -> None:
    # No home is needed to print SQL.
    for dialect, marker in (
        ("oracle", "VARCHAR2(4000)"),
        ("postgresql", "CREATE OR REPLACE FUNCTION"),
        ("sqlite", "CREATE TRIGGER IF NOT EXISTS"),
    ):
        printed = cli.ok("cloud", "ddl", "--dialect", dialect).stdout
        assert marker in printed
        for table in ("operators", "actors", "prospects", "outreach_logs"):
            assert f"CREATE TABLE {table} (" in printed
