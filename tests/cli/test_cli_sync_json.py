"""``sync --json`` and ``sync --watch --json`` print the one sync report shape."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_support import SCRIPT, Cli, initialised


@pytest.fixture
def cli(home: Path) -> Cli:
    return initialised(home)


def _first_json_object(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Read stdout until one whole JSON object has arrived (it spans several lines)."""
    assert process.stdout is not None
    text = ""
    decoder = json.JSONDecoder()
    while True:
        line = process.stdout.readline()
        assert line, f"the process ended before printing a report: {process.wait()}"
        text += line
        try:
            found, _end = decoder.raw_decode(text.strip())
        except json.JSONDecodeError:
            continue
        assert isinstance(found, dict)
        return found


def test_sync_watch_json_prints_the_same_report_as_sync_json(cli: Cli, home: Path) -> None:
    cli.ok("log", "--to", "first.lead", "--message", "hello")
    once = json.loads(cli.ok("--json", "sync").stdout)
    assert once["pushed_logs"] == 1
    cli.ok("log", "--to", "second.lead", "--message", "hello again")
    process = subprocess.Popen(
        [str(SCRIPT), "--home", str(home), "--json", "sync", "--watch", "--interval", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        watched = _first_json_object(process)
    finally:
        process.kill()
        process.communicate(timeout=30)
    # It used to print only pushed_logs and pulled.
    assert set(watched) == set(once)
    assert (watched["pushed_logs"], watched["pushed_edits"], watched["errors"]) == (1, 0, [])
