"""`dmledger today` starts without the heavy libraries, and its fast path answers as
the Typer command does (the time itself is measured in bench P11, not here); the
browser's line for the native host skips Typer too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli, initialised, refused

from dmledger.cli import fast

HEAVY = ("sqlalchemy", "fastapi", "pygal", "psycopg", "oracledb", "keyring", "uvicorn")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = initialised(tmp_path / "home")
    cli.ok("log", "--to", "late.lead", "--message", "hi", "--at", "2026-01-01T10:00:00Z")
    cli.ok("log", "--to", "later.lead", "--message", "hey", "--at", "2026-01-05T10:00:00Z")
    return cli


def imported_by(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m dmledger ARGS``: its result and the top-level
    packages it imported (importtime writes one line per module to stderr)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dmledger", *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,  # the native host reads frames until stdin closes
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},  # the table's handles in one piece
    )
    names = {
        line.rpartition("|")[2].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    return done, names


@pytest.mark.parametrize(
    "args",
    [
        ("today", "--json"),
        ("--json", "today", "--limit", "1"),
        ("today",),  # the table: through Typer, still without the Ledger
        ("today", "--json", "--limit", "1", "--limit", "2"),  # repeated: Typer's rule
    ],
)
def test_today_in_a_subprocess_imports_no_database_or_web_library(
    cli: Cli, args: tuple[str, ...]
) -> None:
    done, names = imported_by("--home", str(cli.home), *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "late.lead" in done.stdout
    assert "dmledger" in names and "sqlite3" in names  # the hook saw the imports
    assert names.isdisjoint(HEAVY), sorted(names & set(HEAVY))


def test_the_fast_path_skips_typer_and_pydantic(cli: Cli) -> None:
    done, names = imported_by("--home", str(cli.home), "today", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert names.isdisjoint({"typer", "pydantic", "rich", *HEAVY})
    _done, names = imported_by("--home", str(cli.home), "today", "--json", "--help")
    assert "typer" in names  # anything it does not take goes to the Typer app


def test_the_fast_path_answers_what_the_typer_command_answers(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(cli.home)
    for extra in ([], ["--limit", "1"], ["--actor=sarah.sells"], ["--operator", "Nadia"]):
        assert fast.answer(["--home", home, "today", "--json", *extra])
        quick = json.loads(capsys.readouterr().out)
        typer = json.loads(cli.ok("today", "--json", *extra).stdout)
        assert quick.pop("now") <= typer.pop("now")
        assert quick == typer
    assert [i["handle"] for i in quick["items"]] == []
    assert [i["handle"] for i in typer["items"]] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["today"],  # no --json: the table is Typer's
        ["today", "--json", "--help"],
        ["today", "--json", "--limit", "ten"],
        ["today", "--json", "--limit"],
        ["today", "--json", "--json"],
        ["today", "--json", "extra"],
        ["--actor", "x", "today", "--json"],  # a today option before the command
        ["today", "--json", "--home", "elsewhere"],  # the root option after it
        ["--version"],
        ["status", "--json"],
    ],
)
def test_the_fast_path_leaves_every_other_command_line_to_typer(argv: list[str]) -> None:
    assert fast.parse(argv) is None


def test_refusals_on_the_fast_path_are_the_typer_commands(cli: Cli, tmp_path: Path) -> None:
    home = str(cli.home)
    for argv, word in (
        (["today", "--json", "--limit", "0"], "limit 0 is out of range"),
        (["today", "--json", "--actor", "no way!"], "no way!"),
    ):
        assert not fast.answer(["--home", home, *argv])  # refused: Typer says it
        refused(cli(*argv), 1, word)
    refused(cli("today", "--json", "--limit", "ten"), 2, "--limit")
    assert not fast.answer(["--home", str(tmp_path / "none"), "today", "--json"])
    done, _ = imported_by("--home", str(tmp_path / "none"), "today", "--json")
    assert done.returncode == 1 and "no DM Ledger home" in done.stderr
    assert done.stdout == ""


def test_the_browsers_native_host_line_skips_typer(cli: Cli) -> None:
    done, names = imported_by("--home", str(cli.home), "native-host", "chrome-extension://x/")
    assert done.returncode == 0, done.stderr[-2000:]  # stdin closed: the host ends
    assert "dmledger" in names and "sqlalchemy" in names  # the host ran
    assert names.isdisjoint({"typer", "rich", "psycopg", "oracledb"})


@pytest.mark.parametrize(
    ("argv", "home"),
    [
        (["native-host"], None),
        (["--home", "h", "native-host", "chrome-extension://x/"], "h"),
        (["--home=h", "native-host", "chrome-extension://x/", "--parent-window=0"], "h"),
        (["native-host", "--help"], False),
        (["--json", "native-host"], False),
        (["native-host", "--home", "h"], False),  # the root option after it
        (["--home"], False),
        (["--home", "h"], False),
        (["today", "--json"], False),
    ],
)
def test_the_native_host_fast_path_takes_only_the_launchers_line(
    argv: list[str], home: str | bool | None
) -> None:
    found = fast.parse_native_host(argv)
    if home is False:
        assert found is None
    else:
        assert found == ({} if home is None else {"--home": home})
