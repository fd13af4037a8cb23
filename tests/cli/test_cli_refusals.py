"""Every refusal: exit 1 naming the value and the rule, 2 for usage, 3 for no cloud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Cli, initialised, refused, run_script


@pytest.fixture
def cli(home: Path) -> Cli:
    """A CLI on a fresh, not yet initialised home."""
    return Cli(home)


@pytest.fixture
def team(home: Path) -> Cli:
    """A CLI on a home initialised for Sarah on an embedded cloud."""
    return initialised(home)


UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/x"
HANDLE_RULE = "a handle is 1-30 characters of a-z, 0-9"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("foo..bar", "contains '..'"),
        (".foo", "starts or ends with '.'"),
        ("foo bar", "contains a space"),
        ("a" * 31, "31 characters long"),
        ("@", "contains"),
    ],
)
def test_invalid_handles_are_refused_naming_the_value_and_the_rule(
    team: Cli, raw: str, why: str
) -> None:
    for args in (
        ("prospect", "add", raw),
        ("prospect", "show", raw),
        ("prospect", "set", raw, "--status", "warm"),
        ("log", "--to", raw, "--message", "hi"),
    ):
        result = team(*args)
        refused(result, 1, repr(raw), why, HANDLE_RULE)


def test_a_url_that_is_not_a_profile_is_refused(team: Cli) -> None:
    result = team("prospect", "add", "https://www.instagram.com/p/C1x2y3/")
    refused(result, 1, "https://www.instagram.com/p/C1x2y3/", "not a profile URL")


def test_an_invalid_actor_is_refused(team: Cli) -> None:
    refused(
        team("log", "--to", "foo.bar", "--message", "hi", "--actor", "bad actor"), 1, "'bad actor'"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("prospect", "add", "foo.bar", "--status", "lukewarm"),
        ("prospect", "set", "known.lead", "--status", "lukewarm"),
        ("prospect", "list", "--status", "lukewarm"),
    ],
)
def test_an_unknown_status_is_refused_naming_the_value_and_the_statuses(
    team: Cli, args: tuple[str, ...]
) -> None:
    team.ok("prospect", "add", "known.lead")
    refused(team(*args), 1, "status 'lukewarm' is not one of: new, contacted, cold")


def test_an_unknown_actor_status_is_refused(team: Cli) -> None:
    refused(team("actor", "set-status", "sarah.sells", "sleeping"), 1, "'sleeping'", "active")


def test_a_dm_to_an_excluded_prospect_is_refused_and_force_records_it(team: Cli) -> None:
    team.ok("prospect", "add", "do.not.dm", "--status", "excluded")
    result = team("log", "--to", "do.not.dm", "--message", "hi")
    refused(result, 1, "'do.not.dm' is excluded", "--force")
    card = json.loads(team.ok("--json", "prospect", "show", "do.not.dm").stdout)
    assert card["recent_logs"] == []
    forced = json.loads(
        team.ok("--json", "log", "--to", "do.not.dm", "--message", "hi", "--force").stdout
    )
    assert forced["created"] is True
    assert forced["prospect"]["status"] == "excluded"
    assert len(forced["prospect"]["recent_logs"]) == 1


def test_a_missing_home_is_refused_with_the_way_out(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "never-initialised")
    for args in (
        ("prospect", "show", "foo.bar"),
        ("log", "--to", "x", "--message", "m"),
        ("status",),
    ):
        refused(cli(*args), 1, "no DM Ledger home at", "dmledger init --operator NAME")


def test_the_home_can_come_from_the_environment(team: Cli, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dmledger.cli import app

    team.ok("prospect", "add", "foo.bar")
    result = CliRunner().invoke(
        app, ["--json", "prospect", "show", "foo.bar"], env={"DMLEDGER_HOME": str(team.home)}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["handle"] == "foo.bar"


def test_destructive_commands_need_yes(team: Cli) -> None:
    team.ok("prospect", "add", "foo.bar")
    refused(team("prospect", "delete", "foo.bar"), 1, "--yes")
    team.ok("prospect", "show", "foo.bar")
    refused(team("cloud", "reset"), 1, "--yes", "every lead and DM")
    assert json.loads(team.ok("--json", "cloud", "check").stdout)["reachable"] is True


def test_refusals_of_state_name_the_lead(team: Cli) -> None:
    team.ok("prospect", "add", "foo.bar")
    refused(team("prospect", "add", "@Foo.Bar"), 1, "'foo.bar' is already in the ledger")
    refused(team("prospect", "delete", "nobody.yet", "--yes"), 1, "'nobody.yet'")
    refused(team("prospect", "set", "foo.bar"), 1, "nothing to change")
    refused(
        team("prospect", "set", "foo.bar", "--append-note", "  \n "), 1, "note to append is empty"
    )
    refused(team("log", "--to", "foo.bar", "--message", "  "), 1, "message is empty")
    refused(
        team("log", "--to", "foo.bar", "--message", "hi", "--at", "yesterday"),
        1,
        "'yesterday'",
        "ISO 8601",
    )
    refused(team("prospect", "list", "--limit", "0"), 1, "limit 0 is out of range")
    refused(
        team("actor", "add", "new.account", "--operator", "Nobody"),
        1,
        "operator 'Nobody' is not registered",
    )
    refused(team("cloud", "ddl", "--dialect", "mysql"), 1, "dialect 'mysql' is not one of")


def test_init_refuses_a_url_that_is_not_a_supported_database(cli: Cli) -> None:
    refused(
        cli("init", "--operator", "Sarah", "--cloud", "mysql://db/x"), 1, "'mysql'", "supported"
    )
    refused(cli("init", "--operator", "  "), 1, "operator name", "empty")
    assert not (cli.home / "config.toml").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("cloud", "init"),
        ("cloud", "upgrade"),
        ("cloud", "reset", "--yes"),
        ("operator", "add", "Marcus"),
        ("operator", "list"),
        ("actor", "list"),
        ("sync",),
    ],
)
def test_an_unreachable_cloud_exits_3_with_a_message_and_no_traceback(
    cli: Cli, args: tuple[str, ...]
) -> None:
    cli.ok("init", "--operator", "Sarah", "--cloud", UNREACHABLE, "--actor", "sarah.sells")
    result = cli(*args)
    refused(result, 3, "unreachable", "127.0.0.1")


def test_cloud_check_reports_an_unreachable_cloud_and_exits_3(cli: Cli) -> None:
    cli.ok("init", "--operator", "Sarah", "--cloud", UNREACHABLE)
    result = cli("cloud", "check")
    assert result.exit_code == 3
    assert "unreachable" in result.stderr  # like every failure, on stderr (exit 3)
    assert "Traceback" not in result.output
    as_json = cli("--json", "cloud", "check")
    assert as_json.exit_code == 3
    report = json.loads(as_json.stdout)
    assert report["reachable"] is False
    assert "127.0.0.1" in report["message"]


def test_local_work_goes_on_while_the_cloud_is_unreachable(cli: Cli) -> None:
    cli.ok("init", "--operator", "Sarah", "--cloud", UNREACHABLE, "--actor", "sarah.sells")
    cli.ok("prospect", "add", "foo.bar")
    cli.ok("log", "--to", "foo.bar", "--message", "hi")
    status = json.loads(cli.ok("--json", "status").stdout)
    assert (status["cloud_reachable"], status["pending_logs"], status["pending_changes"]) == (
        False,
        1,
        1,
    )


def test_an_unreachable_cloud_exits_3_through_the_installed_script(home: Path) -> None:
    init = run_script("--home", str(home), "init", "--operator", "Sarah", "--cloud", UNREACHABLE)
    assert init.returncode == 0, init.stderr
    result = run_script("--home", str(home), "cloud", "init")
    assert result.returncode == 3
    assert "unreachable" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("prospect", "add"),
        ("log", "--to", "foo.bar"),
        ("prospect", "show", "foo.bar", "--no-such-option"),
        ("no-such-command",),
        ("prospect", "list", "--limit", "many"),
    ],
)
def test_usage_errors_exit_2(team: Cli, args: tuple[str, ...]) -> None:
    result = team(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_a_usage_error_exits_2_through_the_installed_script(home: Path) -> None:
    result = run_script("--home", str(home), "prospect", "show")
    assert result.returncode == 2
    assert "Missing argument" in result.stderr
