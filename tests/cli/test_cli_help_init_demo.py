"""``--help`` for every command, what ``init`` writes (and never writes), and ``demo``."""

from __future__ import annotations

import json
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_support import Cli, refused, run_script

from dmledger.cli import app


@pytest.fixture
def cli(home: Path) -> Cli:
    """A CLI on a fresh, not yet initialised home."""
    return Cli(home)


def every_command() -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, click command) for the root, every group and every command under it."""

    def walk(path: tuple[str, ...], command: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk((*path, name), sub)

    yield from walk((), typer.main.get_command(app))


COMMANDS = list(every_command())


def test_the_contracts_commands_all_exist() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    expected = {
        "init",
        "cloud init",
        "cloud upgrade",
        "cloud check",
        "cloud reset",
        "cloud ddl",
        "operator add",
        "operator list",
        "actor add",
        "actor list",
        "actor set-status",
        "prospect add",
        "prospect show",
        "prospect set",
        "prospect list",
        "prospect delete",
        "log",
        "import",
        "import-logs",
        "export",
        "status",
        "demo",
    }
    assert expected <= paths, sorted(expected - paths)


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "dmledger" for p, _ in COMMANDS]
)
def test_every_command_has_help_text(path: tuple[str, ...], command: Any, cli: Cli) -> None:
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    for param in command.params:
        if param.param_type_name in ("option", "argument"):
            assert (getattr(param, "help", None) or "").strip(), f"{path} {param.name} has no help"
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    first_words = " ".join(command.help.split()[:4])
    assert first_words in " ".join(result.stdout.split())


def test_help_works_through_the_installed_script() -> None:
    result = run_script("--help")
    assert result.returncode == 0
    assert "DM Ledger" in result.stdout
    for group in ("prospect", "cloud", "operator", "actor", "log", "import"):
        assert group in result.stdout


# -- init ----------------------------------------------------------------------------


def test_init_writes_the_settings_and_a_private_api_token(cli: Cli) -> None:
    done = cli.ok("--json", "init", "--operator", "Sarah", "--actor", "@Sarah.Sells")
    shown = json.loads(done.stdout)
    assert (shown["operator"], shown["actor"]) == ("Sarah", "sarah.sells")
    config = tomllib.loads((cli.home / "config.toml").read_text(encoding="utf-8"))
    assert config["operator"] == "Sarah"
    assert config["actor"] == "sarah.sells"
    assert config["cloud_url"] == f"sqlite:///{cli.home / 'cloud.db'}"
    token = cli.home / "api_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE((cli.home / "config.toml").stat().st_mode) == 0o600
    printed = cli.ok("api-token").stdout.strip()
    assert printed == token.read_text(encoding="utf-8").strip()
    assert len(printed) >= 32


def test_init_again_changes_only_what_is_given_and_says_so(cli: Cli) -> None:
    cli.ok("init", "--operator", "Sarah", "--actor", "sarah.sells")
    again = json.loads(cli.ok("--json", "init", "--operator", "Sarah").stdout)
    assert (again["created"], again["changes"], again["actor"]) == (False, [], "sarah.sells")
    cli.ok("cloud", "init")
    cli.ok("log", "--to", "still.works", "--message", "hi")  # the actor was kept
    printed = cli.ok("init", "--actor", "sarah.growth").stdout
    assert "actor: sarah.sells → sarah.growth" in printed
    config = tomllib.loads((cli.home / "config.toml").read_text(encoding="utf-8"))
    assert (config["operator"], config["actor"]) == ("Sarah", "sarah.growth")
    cli.ok("log", "--to", "second.lead", "--message", "hi")  # the new actor is usable


def test_init_refuses_to_replace_the_operator_or_cloud_of_a_home_with_queued_work(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("init", "--operator", "Sarah", "--actor", "sarah.sells")
    cli.ok("log", "--to", "queued.lead", "--message", "hi")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    refused(cli("init", "--operator", "Nadia"), 1, "1 DMs and 0 edits", "--force")
    refused(cli("init", "--cloud", other), 1, "pushed to the new cloud", "dmledger sync")
    config = tomllib.loads((cli.home / "config.toml").read_text(encoding="utf-8"))
    assert (config["operator"], config["cloud_url"]) == (
        "Sarah",
        f"sqlite:///{cli.home / 'cloud.db'}",
    )
    forced = cli("init", "--cloud", other, "--force")
    assert forced.exit_code == 0, forced.output
    assert "cloud url:" in forced.stdout and "stay queued" in forced.stderr
    status = json.loads(cli.ok("--json", "status", "--offline").stdout)
    assert status["pending_logs"] == 1
    assert status["cloud"] == other


def test_init_of_a_new_home_needs_the_operator(cli: Cli) -> None:
    refused(cli("init", "--actor", "sarah.sells"), 1, "--operator NAME")


def test_init_works_with_the_cloud_unreachable(cli: Cli) -> None:
    cli.ok("init", "--operator", "Sarah", "--cloud", "postgresql+psycopg://postgres@127.0.0.1:1/x")
    assert (cli.home / "config.toml").is_file()
    assert (cli.home / "local_data.db").is_file()


def test_init_never_writes_or_prints_a_password_from_the_url(home: Path) -> None:
    secret = "s3cr3t-Pa55word"
    url = f"postgresql+psycopg://sarah:{secret}@127.0.0.1:1/team"
    # A keyring backend that always fails: the password must then be dropped, not saved.
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = run_script("--home", str(home), "init", "--operator", "Sarah", "--cloud", url, env=env)
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    assert "DMLEDGER_CLOUD_PASSWORD" in result.stderr
    for path in home.iterdir():
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path.name
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config["cloud_url"] == "postgresql+psycopg://sarah@127.0.0.1:1/team"
    status = run_script("--home", str(home), "status", env=env)
    assert secret not in status.stdout + status.stderr


def test_a_password_from_the_environment_is_never_printed(cli: Cli) -> None:
    url = "postgresql+psycopg://sarah@127.0.0.1:1/team"
    cli.ok("init", "--operator", "Sarah", "--cloud", url)
    result = cli("cloud", "init", env={"DMLEDGER_CLOUD_PASSWORD": "hunter2-secret"})
    refused(result, 3, "unreachable")
    assert "hunter2-secret" not in result.output
    assert "sarah@127.0.0.1:1/team" in result.stderr


# -- demo ----------------------------------------------------------------------------


def test_demo_loads_a_sample_team_into_the_embedded_cloud(cli: Cli) -> None:
    cli.ok("init", "--operator", "Sarah", "--actor", "sarah.sells")
    loaded = json.loads(cli.ok("--json", "demo").stdout)
    assert loaded["loaded"]["operators"] == 3
    assert loaded["loaded"]["actors"] == 5
    assert loaded["loaded"]["leads"] == 1000
    assert loaded["loaded"]["dms"] >= 3000
    assert loaded["pulled"] == 1000
    check = json.loads(cli.ok("--json", "cloud", "check").stdout)
    assert check["demo_data"] is True
    assert check["counts"]["prospects"] == 1000
    booked = json.loads(cli.ok("--json", "prospect", "list", "--status", "booked").stdout)
    assert booked
    assert all(p["owner_actor"] for p in booked)
    # Running it again does not load a second team.
    again = json.loads(cli.ok("--json", "demo").stdout)
    assert again["loaded"]["leads"] == 0
    assert json.loads(cli.ok("--json", "cloud", "check").stdout)["counts"]["prospects"] == 1000


def test_demo_refuses_a_cloud_holding_real_leads(cli: Cli) -> None:
    cli.ok("init", "--operator", "Sarah", "--actor", "sarah.sells")
    cli.ok("cloud", "init")
    cli.ok("log", "--to", "real.lead", "--message", "hi")
    cli.ok("sync")
    refused(cli("demo"), 1, "not demo data")


def test_demo_refuses_a_postgresql_cloud(cli: Cli, pg_url: str) -> None:
    cli.ok("init", "--operator", "Sarah", "--cloud", pg_url, "--actor", "sarah.sells")
    cli.ok("cloud", "init")
    refused(cli("demo"), 1, "demo data goes only into the embedded SQLite cloud")
    check = json.loads(cli.ok("--json", "cloud", "check").stdout)
    assert check["counts"]["prospects"] == 0
    assert check["demo_data"] is False
