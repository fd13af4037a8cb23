"""Hardening of the CLI and the home (issue 14): ambiguous passwords in ``--cloud``,
owner-only files whatever the umask, and control characters kept off the terminal."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli, initialised, refused, run_script

from dmledger import settings as config
from dmledger.errors import InvalidInput

# -- item 4: a password that cannot be parsed without doubt ----------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres:Pa@ss_PartTwo77@db.example.com/team",
        "postgresql+psycopg://postgres:Pa/ss_PartTwo77@db.example.com/team",
        "postgresql+psycopg://postgres:Pa?ss_PartTwo77@db.example.com/team",
        "postgresql+psycopg://postgres:Pa#ss_PartTwo77@db.example.com/team",
        "postgresql+psycopg://post@gres:Pass_PartTwo77@db.example.com/team",
    ],
)
def test_init_refuses_a_password_it_cannot_split_without_doubt(home: Path, url: str) -> None:
    result = run_script("--home", str(home), "init", "--operator", "Sarah", "--cloud", url)
    assert result.returncode == 1, result.stderr
    assert "%40" in result.stderr and "DMLEDGER_CLOUD_PASSWORD" in result.stderr
    assert "PartTwo77" not in result.stdout + result.stderr
    assert not (home / config.CONFIG_NAME).exists()
    for path in home.rglob("*"):
        if path.is_file():
            assert b"PartTwo77" not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql+psycopg://postgres:Pa%40ss@db.example.com/team", "Pa@ss"),
        ("postgresql+psycopg://postgres:Pa%2Fss%23@db.example.com/team", "Pa/ss#"),
        ("postgresql+psycopg://postgres:Pa:ss@db.example.com/team", "Pa:ss"),
        ("postgresql+psycopg://postgres@db.example.com/team?options=a%40b", None),
        ("sqlite:////tmp/odd@folder/cloud.db", None),
    ],
)
def test_an_encoded_password_is_split_off_exactly(url: str, password: str | None) -> None:
    kept, found = config.split_password(url)
    assert found == password
    assert "Pa" not in kept.split("@")[0].partition("//")[2].partition(":")[2]


def test_the_refusal_never_names_the_password() -> None:
    with pytest.raises(InvalidInput) as raised:
        config.split_password("postgresql+psycopg://u:Secret@Part2@host/db")
    assert "Secret" not in str(raised.value) and "Part2" not in str(raised.value)


# -- item 5: owner-only files whatever the umask ------------------------------------


_WORK_IN_A_HOME = """
import os, stat, sys, json
from pathlib import Path
from dmledger.app.ledger import Ledger
home = Path(sys.argv[1])
ledger = Ledger.open(home)
ledger.log_dm("glow.skin", "Hi there")
ledger.sync()
# The connections are open: SQLite's -wal and -shm files exist now.
modes = {str(p.relative_to(home)): stat.S_IMODE(p.stat().st_mode) for p in home.rglob("*")}
modes["."] = stat.S_IMODE(home.stat().st_mode)
ledger.close()
print(json.dumps(modes))
"""


def _umask_022() -> None:
    os.umask(0o022)


def _modes(home: Path) -> dict[str, int]:
    found = {str(p.relative_to(home)): stat.S_IMODE(p.stat().st_mode) for p in home.rglob("*")}
    found["."] = stat.S_IMODE(home.stat().st_mode)
    return found


def _assert_owner_only(modes: dict[str, int], home: Path) -> None:
    for name, mode in modes.items():
        expected = 0o700 if (home / name).is_dir() else 0o600
        assert mode == expected, f"{name} is {oct(mode)}, not {oct(expected)}"


def test_every_file_of_a_home_is_owner_only_under_umask_022(home: Path) -> None:
    script = str(Path(sys.executable).with_name("dmledger"))
    env = {**os.environ, "DMLEDGER_HOME": str(home)}
    for args in (
        ["init", "--operator", "Sarah", "--actor", "sarah.sells"],
        ["cloud", "init"],
        ["log", "--to", "fit.coach", "--message", "hello"],
        ["sync"],
    ):
        subprocess.run(
            [script, *args], env=env, check=True, capture_output=True, preexec_fn=_umask_022
        )
    _assert_owner_only(_modes(home), home)
    live = subprocess.run(
        [sys.executable, "-c", _WORK_IN_A_HOME, str(home)],
        check=True,
        capture_output=True,
        text=True,
        preexec_fn=_umask_022,
    )
    modes = json.loads(live.stdout)
    assert {"local_data.db-wal", "cloud.db", "cloud.db-wal"} <= set(modes), modes
    _assert_owner_only(modes, home)


def test_opening_a_home_makes_existing_files_owner_only(home: Path) -> None:
    cli = initialised(home)
    (home / "local_data.db").chmod(0o644)
    (home / "cloud.db").chmod(0o666)
    (home / "notes").mkdir(mode=0o755)
    (home / "notes").chmod(0o755)
    (home / "notes" / "x.txt").write_text("x")
    (home / "notes" / "x.txt").chmod(0o644)
    cli.ok("status")
    _assert_owner_only(_modes(home), home)


# -- item 6: control characters ------------------------------------------------------


@pytest.fixture
def team(home: Path) -> Cli:
    return initialised(home)


@pytest.mark.parametrize("name", ["bad\x01\x1bname", "\x1b[2Jwiped", "tail\x1f", "rtl\u202ename"])
def test_operator_names_refuse_control_characters(team: Cli, name: str) -> None:
    refused(team("operator", "add", name), 1, "control characters")
    assert "\x1b" not in team.ok("operator", "list").stdout


def test_init_refuses_an_operator_name_with_control_characters(home: Path) -> None:
    refused(Cli(home)("init", "--operator", "Sa\x1brah"), 1, "control characters", "\\x1b")
    assert not (home / config.CONFIG_NAME).exists()


def test_the_cli_shows_control_characters_in_text_escaped(team: Cli) -> None:
    hostile = "hi \x1b[31mred\x1b[0m \x07bell \u202eevil"
    team.ok("log", "--to", "glow.skin", "--message", hostile)
    team.ok("prospect", "set", "glow.skin", "--notes", "note \x1b]0;title\x07")
    for args in (("prospect", "show", "glow.skin"), ("prospect", "list")):
        shown = team.ok(*args).stdout
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown, args
        assert "\\x1b" in shown, args
    shown = team.ok("prospect", "show", "glow.skin").stdout
    assert "\\x1b[31mred" in shown and "\\u202e" in shown
    # --json keeps the text as it is (JSON escapes it).
    data = json.loads(team.ok("--json", "prospect", "show", "glow.skin").stdout)
    assert data["recent_logs"][0]["message"] == hostile
