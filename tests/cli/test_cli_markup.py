"""Sync errors and reasons reach the terminal as text, never as Rich markup."""

from __future__ import annotations

import io

from rich.console import Console

from dmledger.cli import render
from dmledger.errors import CloudUnavailable
from dmledger.sync.engine import SyncReport

HOSTILE = "cloud [bold]db[/] is unreachable: [/] [red]x"


def _printed(markup: str) -> str:
    console = Console(file=io.StringIO(), highlight=False, soft_wrap=True, color_system=None)
    console.print(markup)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def test_a_failed_sync_in_watch_mode_prints_its_error_as_written() -> None:
    printed = _printed(render.sync_retry(CloudUnavailable(HOSTILE), 30))
    assert printed == f"{HOSTILE} — retrying in 30s\n"


def test_a_full_resync_reason_prints_as_written() -> None:
    report = SyncReport(full_resync=True, resync_reason=HOSTILE)
    assert f"(full resync: {HOSTILE})" in _printed(render.sync_report(report))
