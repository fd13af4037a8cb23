"""Helpers for the CLI tests: run ``dmledger`` in-process or as the installed script."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from dmledger.cli import app

SCRIPT = Path(sys.executable).with_name("dmledger")


@dataclass
class Cli:
    """Runs ``dmledger --home HOME …`` in-process."""

    home: Path

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, ["--home", str(self.home), *args], env=env)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result


def refused(result: Result, code: int, *words: str) -> None:
    """The command stopped on purpose: exit ``code``, the words on stderr, no traceback."""
    assert result.exit_code == code, result.output
    # An uncaught exception also exits 1 under CliRunner; a refusal is a SystemExit.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, f"{word!r} not in {result.stderr!r}"


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def initialised(home: Path) -> Cli:
    """A home initialised for Sarah (actor sarah.sells) on an embedded cloud with its schema.

    The CLI test modules wrap this in their own fixtures: a conftest.py here would be
    imported as the module ``conftest`` and shadow tests/conftest.py for modules that
    import from it.
    """
    cli = Cli(home)
    cli.ok(
        "init",
        "--operator",
        "Sarah",
        "--cloud",
        f"sqlite:///{home / 'cloud.db'}",
        "--actor",
        "sarah.sells",
    )
    cli.ok("cloud", "init")
    return cli
