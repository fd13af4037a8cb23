"""The status card from the CLI: an unknown lead is an answer, and teammates' DMs show."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cli_support import Cli


@pytest.fixture
def cloud(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'team-cloud.db'}"


def member(home: Path, cloud: str, operator: str, actor: str) -> Cli:
    cli = Cli(home)
    cli.ok("init", "--operator", operator, "--cloud", cloud, "--actor", actor)
    return cli


@pytest.fixture
def sarah(tmp_path: Path, cloud: str) -> Cli:
    cli = member(tmp_path / "sarah", cloud, "Sarah", "sarah.sells")
    cli.ok("cloud", "init")
    return cli


@pytest.fixture
def marcus(tmp_path: Path, cloud: str, sarah: Cli) -> Cli:
    return member(tmp_path / "marcus", cloud, "Marcus", "marcus.closes")


def test_a_lead_nobody_contacted_is_an_answer_not_an_error(sarah: Cli) -> None:
    shown = sarah("--json", "prospect", "show", "someone.new")
    assert shown.exit_code == 0, shown.output
    card = json.loads(shown.stdout)
    assert (card["handle"], card["known"], card["contacted"]) == ("someone.new", False, False)
    assert card["recent_logs"] == []
    printed = sarah.ok("prospect", "show", "@Someone.New").stdout
    assert "someone.new" in printed and "Not contacted" in printed


def test_the_card_shows_a_teammates_dms_from_the_cloud(sarah: Cli, marcus: Cli) -> None:
    for n in range(4):
        sarah.ok("log", "--to", "shared.lead", "--message", f"dm {n}", "--at", f"2026-11-0{n + 1}")
    sarah.ok("sync")
    marcus.ok("sync")
    card = json.loads(marcus.ok("--json", "prospect", "show", "shared.lead").stdout)
    assert card["team_dms"] == "included"
    assert [(log["message"], log["local"]) for log in card["recent_logs"]] == [
        (f"dm {n}", False) for n in (3, 2, 1, 0)
    ]
    assert {log["operator"] for log in card["recent_logs"]} == {"Sarah"}
    printed = marcus.ok("prospect", "show", "shared.lead").stdout
    assert printed.count("sarah.sells (Sarah): dm") == 4

    local_only = json.loads(
        marcus.ok("--json", "prospect", "show", "shared.lead", "--local").stdout
    )
    assert (local_only["team_dms"], local_only["recent_logs"]) == ("not asked", [])


def test_a_dm_known_to_both_sides_is_shown_once(sarah: Cli) -> None:
    sarah.ok("log", "--to", "mine.lead", "--message", "hello")
    sarah.ok("sync")
    card = json.loads(sarah.ok("--json", "prospect", "show", "mine.lead").stdout)
    assert [(log["message"], log["local"], log["synced"]) for log in card["recent_logs"]] == [
        ("hello", True, True)
    ]


def test_with_the_cloud_unreachable_the_card_says_it_shows_local_dms_only(sarah: Cli) -> None:
    sarah.ok("log", "--to", "offline.lead", "--message", "hi")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    env = {"DMLEDGER_CLOUD_URL": f"postgresql+psycopg://nobody@127.0.0.1:{closed_port}/none"}
    shown = sarah("--json", "prospect", "show", "offline.lead", env=env)
    assert shown.exit_code == 0, shown.output
    card = json.loads(shown.stdout)
    assert card["team_dms"] == "unavailable" and card["team_error"]
    assert [log["message"] for log in card["recent_logs"]] == ["hi"]
    printed = sarah("prospect", "show", "offline.lead", env=env).stdout
    assert "this machine's DMs only" in printed
