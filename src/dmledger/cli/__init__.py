"""The ``dmledger`` command line (Typer + Rich). Thin: parse, call Ledger, render.

``main`` answers ``dmledger today --json`` itself when it can (``cli/fast.py``: the
setter's most frequent question, bound by start-up time); everything else, and any
``today`` it cannot take as given, goes to the Typer app in ``cli/main.py``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dmledger.cli.main import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    from dmledger.cli.fast import answer

    if answer(sys.argv[1:]):
        return
    from dmledger.cli.main import main as typer_main

    typer_main()


def __getattr__(name: str) -> Any:
    if name == "app":  # the Typer app, built on first use (tests, the full CLI)
        from dmledger.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
