"""``dmledger today --json`` and ``dmledger native-host`` answered before Typer is loaded.

Typer builds every command and validates each parameter through pydantic before a
command runs; for ``today --json`` (a script's or the launcher's question, asked
often) that start-up is most of the time. This module takes only the plain forms —
``[--home H] [--json] today [--json] [--actor A] [--operator O] [--limit N]`` with
``--opt VALUE`` or ``--opt=VALUE``, each at most once — and reads the cache through the
same ``app.quick_today.read_today`` the Typer command calls. Anything else (``--help``, an
unknown or repeated option, a limit that is not a number) and every refusal (no home,
a bad handle, a limit out of range) goes to the Typer app, which parses and reports
it in its one place: answering here is only ever a faster way to the same answer.

``[--home H] native-host [ORIGIN] [--parent-window=N]``, the line the browser's
launcher runs, starts the host here too: its start-up is most of the wait for the
first card after the browser starts.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Sequence

from dmledger.errors import DmLedgerError

ROOT_OPTIONS = {"--home"}
TODAY_OPTIONS = {"--actor", "--operator", "--limit"}


def parse(argv: Sequence[str]) -> dict[str, str] | None:
    """The values of a plain ``today --json`` command line, or None for anything else."""
    values: dict[str, str] = {}
    command_seen = json_seen = False
    tokens = list(argv)
    while tokens:
        token = tokens.pop(0)
        if token == "--json":
            if json_seen:
                return None
            json_seen = True
            continue
        if token == "today" and not command_seen:
            command_seen = True
            continue
        name, equals, value = token.partition("=")
        allowed = TODAY_OPTIONS if command_seen else ROOT_OPTIONS
        if name not in allowed or name in values:
            return None
        if not equals:
            if not tokens:
                return None
            value = tokens.pop(0)
        values[name] = value
    if not (command_seen and json_seen):
        return None
    limit = values.get("--limit")
    if limit is not None and not (limit.isascii() and limit.isdigit()):
        return None
    return values


def parse_native_host(argv: Sequence[str]) -> dict[str, str] | None:
    """The ``--home`` of a plain ``native-host`` command line (``{}`` without one), or
    None for anything else. After the command only what the browser passes: the
    extension's origin, and on Windows ``--parent-window=N``."""
    tokens = list(argv)
    values: dict[str, str] = {}
    if tokens and tokens[0].partition("=")[0] == "--home":
        name, equals, value = tokens.pop(0).partition("=")
        if not equals:
            if not tokens:
                return None
            value = tokens.pop(0)
        values[name] = value
    if not tokens or tokens.pop(0) != "native-host":
        return None
    if any(t.startswith("-") and not t.startswith("--parent-window=") for t in tokens):
        return None
    return values


def answer(argv: Sequence[str]) -> bool:
    """Print the answer and return True, or return False: the Typer app must answer."""
    host = parse_native_host(argv)
    if host is not None:
        from dmledger.homedir import resolve_home

        try:
            home = resolve_home(host.get("--home"))
        except DmLedgerError:
            return False  # said by the one handler in cli/main.py
        # Importing the host only allocates (no cycles to free): without the collector
        # running meanwhile it starts about a tenth sooner. run() turns it back on once
        # the home is open.
        gc.disable()
        from dmledger.cli.state import configure_logging
        from dmledger.native.host import run

        configure_logging()
        run(home)
        return True
    values = parse(argv)
    if values is None:
        return False
    from dmledger.app.quick_today import read_today
    from dmledger.app.today import TODAY_LIMIT_DEFAULT
    from dmledger.cli.state import emit_json
    from dmledger.homedir import resolve_home

    try:
        result = read_today(
            resolve_home(values.get("--home")),
            actor=values.get("--actor"),
            operator=values.get("--operator"),
            limit=int(values.get("--limit", TODAY_LIMIT_DEFAULT)),
        )
    except (DmLedgerError, sqlite3.Error, ValueError):  # ValueError: a damaged value
        return False  # said, with its exit code, by the one handler in cli/main.py
    emit_json(result.to_dict())
    return True
