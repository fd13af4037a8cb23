"""Issue 12 through the real entry point: reply, today, rules, templates, follow-up dates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Cli, initialised, refused, run_script


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return initialised(tmp_path / "home")


def test_today_lists_due_leads_overdue_first_with_the_contract_fields(cli: Cli) -> None:
    cli.ok("log", "--to", "late.lead", "--message", "hi", "--at", "2026-01-01T10:00:00Z")
    cli.ok("log", "--to", "later.lead", "--message", "hey", "--at", "2026-01-05T10:00:00Z")
    cli.ok("log", "--to", "fresh.lead", "--message", "yo")  # now: not due yet
    data = json.loads(cli.ok("today", "--json").stdout)
    handles = [i["handle"] for i in data["items"]]
    assert handles == ["late.lead", "later.lead"]
    first = data["items"][0]
    for key in ("handle", "owner_actor", "due_at", "overdue_days", "followups_sent", "last_dm_at"):
        assert key in first
    assert first["owner_actor"] == "sarah.sells" and first["followups_sent"] == 0
    assert first["due_at"] == "2026-01-04T10:00:00.000000Z"
    assert first["overdue_days"] > data["items"][1]["overdue_days"]
    assert first["last_message"] == "hi"
    only = json.loads(cli.ok("today", "--actor", "nobody.else", "--json").stdout)
    assert only["items"] == []
    assert "Nothing due today" in cli.ok("today", "--operator", "Nadia").stdout


def test_a_reply_warms_the_lead_stops_follow_ups_and_a_stranger_is_accepted_and_said(
    cli: Cli,
) -> None:
    cli.ok("log", "--to", "late.lead", "--message", "hi", "--at", "2026-01-01T10:00:00Z")
    result = cli.ok("reply", "late.lead", "--at", "2026-01-02T08:00:00Z")
    assert "warm" in result.stdout
    assert json.loads(cli.ok("today", "--json").stdout)["items"] == []
    stranger = cli("reply", "@Never.Seen")
    assert stranger.exit_code == 0
    assert "nobody on the team had recorded a DM to never.seen" in stranger.stderr
    data = json.loads(cli.ok("reply", "never.seen", "--json").stdout)
    assert data["was_contacted"] is False and data["prospect"]["status"] == "warm"
    refused(cli("reply", "x.y", "--at", "2999-01-01T00:00:00Z"), 1, "in the future")
    refused(cli("reply", "not a handle!"), 1, "not a handle!")


def test_follow_up_dates_snooze_and_their_refusals(cli: Cli) -> None:
    cli.ok("log", "--to", "late.lead", "--message", "hi", "--at", "2026-01-01T10:00:00Z")
    cli.ok("prospect", "set", "late.lead", "--snooze", "2d")
    assert json.loads(cli.ok("today", "--json").stdout)["items"] == []
    cli.ok("prospect", "set", "late.lead", "--follow-up", "2026-01-02")
    [item] = json.loads(cli.ok("today", "--json").stdout)["items"]
    assert item["due_at"] == "2026-01-02T00:00:00.000000Z" and item["set_by_hand"] is True
    cli.ok("prospect", "set", "late.lead", "--follow-up", "none")
    [item] = json.loads(cli.ok("today", "--json").stdout)["items"]
    assert item["due_at"] == "2026-01-04T10:00:00.000000Z"
    refused(
        cli("prospect", "set", "late.lead", "--follow-up", "2026-13-45"),
        1,
        "follow-up '2026-13-45' is not a date",
    )
    refused(cli("prospect", "set", "late.lead", "--snooze", "soon"), 1, "'soon'")
    refused(cli("prospect", "set", "nobody.here", "--follow-up", "+3d"), 1, "not in the ledger")
    refused(cli("prospect", "set", "late.lead"), 1, "nothing to change")


def test_rules_show_and_set_change_the_due_list(cli: Cli) -> None:
    cli.ok("log", "--to", "late.lead", "--message", "hi", "--at", "2026-01-01T10:00:00Z")
    assert json.loads(cli.ok("rules", "show", "--json").stdout) == {
        "follow_up_after_days": 3,
        "max_followups": 3,
    }
    cli.ok("rules", "set", "follow-up-after", "2d", "--max", "0")
    assert json.loads(cli.ok("today", "--json").stdout)["items"] == []
    cli.ok("rules", "set", "follow-up-after", "10d", "--max", "2")
    [item] = json.loads(cli.ok("today", "--json").stdout)["items"]
    assert item["due_at"] == "2026-01-11T10:00:00.000000Z"
    refused(cli("rules", "set", "follow-up-after", "2h"), 1, "'2h'")
    refused(cli("rules", "set", "follow-up-after", "2d", "--max", "99"), 1, "--max 99")
    refused(cli("rules", "set", "reply-after", "2d"), 1, "'reply-after'")


def test_templates_add_list_show_log_delete_and_refusals(cli: Cli) -> None:
    refused(
        cli("template", "add", "intro", "--text", "hi {first_name}"),
        1,
        "unknown placeholder {first_name}",
    )
    cli.ok("template", "add", "intro", "--text", "hi {handle}, {actor} here ({operator})")
    assert json.loads(cli.ok("template", "list", "--json").stdout) == [
        {"name": "intro", "text": "hi {handle}, {actor} here ({operator})"}
    ]
    assert "{handle}" in cli.ok("template", "show", "intro").stdout
    logged = json.loads(cli.ok("log", "--to", "@Foo.Bar", "--template", "intro", "--json").stdout)
    assert logged["prospect"]["recent_logs"][0]["message"] == "hi foo.bar, sarah.sells here (Sarah)"
    refused(
        cli("log", "--to", "foo.bar", "--template", "nope"), 1, "template 'nope' does not exist"
    )
    for both_or_none in (
        ("log", "--to", "foo.bar"),
        ("log", "--to", "x", "--message", "x", "--template", "intro"),
    ):
        usage = cli(*both_or_none)
        assert usage.exit_code == 2 and "--message TEXT or --template NAME" in usage.output
    refused(cli("template", "delete", "intro"), 1, "--yes")
    cli.ok("template", "delete", "intro", "--yes")
    refused(cli("template", "show", "intro"), 1, "does not exist")
    refused(cli("template", "delete", "intro", "--yes"), 1, "does not exist")


def test_the_installed_script_runs_today_and_reply(tmp_path: Path) -> None:
    cli = initialised(tmp_path / "home")
    cli.ok("log", "--to", "late.lead", "--message", "hi", "--at", "2026-01-01T10:00:00Z")
    home = str(tmp_path / "home")
    done = run_script("--home", home, "today", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items"][0]["handle"] == "late.lead"
    replied = run_script("--home", home, "reply", "late.lead")
    assert replied.returncode == 0 and "Reply recorded" in replied.stdout
    bad = run_script("--home", home, "template", "add", "x", "--text", "{nope}")
    assert bad.returncode == 1 and "unknown placeholder {nope}" in bad.stderr
