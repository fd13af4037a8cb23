"""The ``dmledger`` command line (Typer + Rich). Thin: parse, call Ledger, render."""

from __future__ import annotations

from dmledger.cli.main import app, main

__all__ = ["app", "main"]
