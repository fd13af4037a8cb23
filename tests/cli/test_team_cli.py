"""``team pack`` and ``join`` through the real CLI entry point, on the real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import psycopg
import pytest
from cli_support import Cli, refused
from typer.testing import CliRunner

from dmledger.cli import app
from dmledger.setup_pack import pack

PASSPHRASE = "four words make a passphrase"
WITH_PASSPHRASE = {"DMLEDGER_PACK_PASSPHRASE": PASSPHRASE}


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    """Never the developer's real keyring: these tests run as if there were none."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def cheap_key_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real cost is exercised by tests/setup_pack/test_pack.py and tests/app/test_onboarding.py.
    monkeypatch.setattr(pack, "_LOG2_N", pack._MIN_LOG2_N)


@pytest.fixture
def pack_user(pg_admin_dsn: str) -> Iterator[str]:
    name = f"dml_cli_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            conn.execute(f"DROP OWNED BY {name}")
            conn.execute(f"DROP ROLE {name}")


@pytest.fixture
def lead(tmp_path: Path, pg_url: str) -> Cli:
    """Lena's home on the PostgreSQL cloud, with one DM synced."""
    cli = Cli(tmp_path / "lead")
    cli.ok("init", "--operator", "Lena", "--cloud", pg_url, "--actor", "lena.leads")
    cli.ok("cloud", "init")
    cli.ok("log", "--to", "first.lead", "--message", "hello from Lena")
    cli.ok("sync")
    return cli


@pytest.fixture
def pack_file(tmp_path: Path, lead: Cli, pack_user: str) -> Path:
    out = tmp_path / "team.dmlpack"
    result = lead("team", "pack", "--out", str(out), "--user", pack_user, env=WITH_PASSPHRASE)
    assert result.exit_code == 0, result.output
    return out


def test_two_commands_take_a_teammate_from_nothing_to_a_logged_dm(
    tmp_path: Path, lead: Cli, pack_file: Path
) -> None:
    mate = Cli(tmp_path / "mate")

    joined = mate(
        "join", str(pack_file), "--operator", "Nadia", "--actor", "nadia.dm", env=WITH_PASSPHRASE
    )
    logged = mate("log", "--to", "x.person", "--message", "hi")

    assert joined.exit_code == 0, joined.output
    assert "Joined" in joined.stdout and "Nadia" in joined.stdout
    assert logged.exit_code == 0, logged.output
    mate.ok("sync")
    lead.ok("sync")
    shown = json.loads(lead.ok("prospect", "show", "x.person", "--json").stdout)
    assert (shown["owner_actor"], shown["owner_operator"]) == ("nadia.dm", "Nadia")
    seen = json.loads(mate.ok("prospect", "show", "first.lead", "--json").stdout)
    assert seen["owner_actor"] == "lena.leads"


def test_team_pack_says_what_the_teammate_runs_and_never_prints_the_password(
    tmp_path: Path, lead: Cli, pack_user: str
) -> None:
    result = lead(
        "team",
        "pack",
        "--out",
        str(tmp_path / "p.dmlpack"),
        "--user",
        pack_user,
        env=WITH_PASSPHRASE,
    )

    assert result.exit_code == 0, result.output
    assert "dmledger join p.dmlpack --operator NAME" in result.stdout
    assert f"Database user {pack_user} created" in result.stdout
    assert PASSPHRASE not in result.output
    again = lead(
        "--json",
        "team",
        "pack",
        "--out",
        str(tmp_path / "q.dmlpack"),
        "--user",
        pack_user,
        env=WITH_PASSPHRASE,
    )
    report = json.loads(again.stdout)
    assert (report["user"], report["created"], report["backend"]) == (
        pack_user,
        False,
        "postgresql",
    )
    assert "password was reset" not in again.stdout  # JSON only on stdout
    assert list(report) == [
        "pack",
        "user",
        "created",
        "backend",
        "role",
        "grants",
        "wallet_files",
        "join_command",
    ]
    assert report["pack"] == str(tmp_path / "q.dmlpack")


def test_team_pack_asks_for_the_passphrase_twice_without_echoing_it(
    tmp_path: Path, lead: Cli, pack_user: str
) -> None:
    out = tmp_path / "asked.dmlpack"

    result = CliRunner().invoke(
        app,
        ["--home", str(lead.home), "team", "pack", "--out", str(out), "--user", pack_user],
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.stderr
    assert PASSPHRASE not in result.output
    # The pack opens with the passphrase that was typed.
    joined = Cli(tmp_path / "mate")("join", str(out), "--operator", "Nadia", env=WITH_PASSPHRASE)
    assert joined.exit_code == 0, joined.output


def test_a_wrong_passphrase_exits_1_and_creates_no_home(tmp_path: Path, pack_file: Path) -> None:
    mate = Cli(tmp_path / "mate")

    result = mate(
        "join",
        str(pack_file),
        "--operator",
        "Nadia",
        env={"DMLEDGER_PACK_PASSPHRASE": "not the passphrase"},
    )

    refused(result, 1, "wrong passphrase")
    assert not (tmp_path / "mate").exists()


def test_a_tampered_pack_exits_1_and_leaves_nothing_behind(tmp_path: Path, pack_file: Path) -> None:
    data = bytearray(pack_file.read_bytes())
    data[-1] ^= 0x80
    pack_file.write_bytes(bytes(data))
    before = {p.name for p in tmp_path.iterdir()}

    result = Cli(tmp_path / "mate")("join", str(pack_file), "--operator", "N", env=WITH_PASSPHRASE)

    refused(result, 1, "changed after it was made")
    assert {p.name for p in tmp_path.iterdir()} == before


def test_join_without_an_operator_name_is_refused(tmp_path: Path, pack_file: Path) -> None:
    result = Cli(tmp_path / "mate")("join", str(pack_file), env=WITH_PASSPHRASE)

    refused(result, 1, "--operator")
    assert not (tmp_path / "mate").exists()


def test_team_pack_on_the_embedded_cloud_is_refused_before_asking_anything(
    tmp_path: Path, sqlite_url: str
) -> None:
    cli = Cli(tmp_path / "solo")
    cli.ok("init", "--operator", "Sam", "--cloud", sqlite_url)

    result = cli("team", "pack", "--out", str(tmp_path / "team.dmlpack"))

    refused(result, 1, "embedded SQLite")
    assert "passphrase" not in result.output.lower()
    assert not (tmp_path / "team.dmlpack").exists()


def test_join_json_reports_where_the_password_went(tmp_path: Path, pack_file: Path) -> None:
    result = Cli(tmp_path / "mate")(
        "--json", "join", str(pack_file), "--operator", "Nadia", env=WITH_PASSPHRASE
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["password_kept_in"] == "file"
    assert report["operator"] == "Nadia" and report["pulled"] >= 1
    assert list(report) == [
        "home",
        "operator",
        "actor",
        "cloud",
        "role",
        "password_kept_in",
        "wallet_dir",
        "rejoined",
        "pulled",
    ]
    assert report["home"] == str(tmp_path / "mate")
    assert "password" not in (tmp_path / "mate" / "config.toml").read_text()
