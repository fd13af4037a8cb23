"""What every command shares: the home, the output mode, and the one Ledger.

Nothing heavy is imported here: the Ledger (SQLAlchemy, the cloud drivers) and Rich's
console are loaded by the first command that uses them, so a command that needs
neither (``dmledger today --json``) starts fast.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer
    from rich.console import Console
    from rich.progress import Progress

    from dmledger.app.ledger import Ledger


class LazyConsole:
    """A Rich console made on its first use (Rich's import costs start-up time)."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.rich.print(*objects, **options)


out = LazyConsole()
err = LazyConsole(stderr=True)


@dataclass
class CliState:
    home: Path
    json: bool = False
    _ledger: Ledger | None = field(default=None, repr=False)

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from dmledger.app.ledger import Ledger

            self._ledger = Ledger.open(self.home)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


def state(ctx: typer.Context) -> CliState:
    found = ctx.find_root().obj
    assert isinstance(found, CliState)
    return found


def configure_logging() -> None:
    """Warnings and errors to stderr (stdout is for data); everything with DMLEDGER_DEBUG."""
    import logging
    import os

    level = logging.DEBUG if os.environ.get("DMLEDGER_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def progress_bar(label: str) -> Progress:
    """The CLI's progress bar: on stderr (stdout stays for data), gone when done."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err.rich,
        transient=True,
    )
