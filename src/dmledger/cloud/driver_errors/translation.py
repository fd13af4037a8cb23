"""The one translation of driver errors into DM Ledger errors, for every backend.

Each driver's codes are read in its own module, one table each: ``postgres.py``
(psycopg's SQLSTATE), ``sqlite.py`` (sqlite3's result codes) and ``oracle.py``
(python-oracledb's ORA-/DPY- numbers; ``connecting/oracle_failures.py`` reads them to
explain a failed Oracle connect). They answer one question, ``kinds.Refusal``: what
the error means for the sync. :func:`translate` turns that answer into the error
class the sync acts on and a message a person can act on:

    unreachable, busy → CloudUnavailable      retry later, the queue intact
    login             → CloudPermissionDenied the user name or password is refused
    right             → CloudPermissionDenied a missing privilege (``verb`` says which)
    schema            → CloudSchemaError      a missing table or column
    row               → CloudRowRefused       the one row is set aside
    other             → CloudError            not understood: stop, never set aside
"""

from __future__ import annotations

import re

from sqlalchemy import exc
from sqlalchemy.engine import make_url

from dmledger.cloud.driver_errors.kinds import Refusal
from dmledger.cloud.urls import backend_of, redact_url
from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudRowRefused,
    CloudSchemaError,
    CloudUnavailable,
    InvalidInput,
)


def classify(error: exc.DBAPIError) -> Refusal:
    """What a driver error, as SQLAlchemy wraps it, means for the sync.

    ``row``: the data of a row was refused; the batch is split to find it and only it
    is set aside. ``unreachable``/``busy``: try again later. ``login``/``right``/
    ``schema``: a refused login, a missing privilege, table or column, about every row
    alike; the sync stops with the queue intact. ``other``: not understood; the sync
    stops too (never set aside).
    """
    if error.connection_invalidated:  # SQLAlchemy saw the connection die under it
        return "unreachable"
    return _by_driver(error.orig) or "other"


def _by_driver(original: BaseException | None) -> Refusal | None:
    """The driver's own module reads the codes; imported on first use, so a SQLite
    user never loads psycopg or oracledb."""
    if original is None:
        return None
    driver = type(original).__module__.split(".")[0]
    if driver == "psycopg":
        from dmledger.cloud.driver_errors.postgres import classify_pg

        return classify_pg(original)
    if driver == "sqlite3":
        from dmledger.cloud.driver_errors.sqlite import classify_sqlite

        return classify_sqlite(original)
    if driver == "oracledb":
        from dmledger.cloud.driver_errors.oracle import classify_oracle

        return classify_oracle(original)
    return None


def translate(error: BaseException, url: str) -> CloudError:
    """Turn a driver or SQLAlchemy error into a DM Ledger error a person can act on.

    The class says what the sync does with it (see :func:`classify`). ``url`` names
    the cloud in the message, its password hidden.
    """
    where = redact_url(url)
    if isinstance(error, CloudError):
        return error
    if isinstance(error, exc.DBAPIError):
        original = error.orig
        text = str(original).strip().splitlines()[0] if original is not None else str(error)
        kind = classify(error)
        if kind == "unreachable":
            return CloudUnavailable(f"cloud {where} is unreachable: {text}")
        if kind == "busy":
            # Nothing is wrong with the data: a refusal here would set good rows aside.
            return CloudUnavailable(f"cloud {where} is busy, try again: {text}")
        if kind == "row":
            return CloudRowRefused(f"cloud {where} refused the row: {text}")
        user = _user_of(url)
        if kind == "login":
            return CloudPermissionDenied(
                f"cloud {where} refused the login of {user} ({text}): check the user name "
                "and DMLEDGER_CLOUD_PASSWORD (or the OS keyring); queued work stays queued"
            )
        verb, table = _statement_target(error.statement or "", text)
        if kind == "right":
            return _denied(verb, table, user, text, url)
        if kind == "schema":
            return CloudSchemaError(
                f"the cloud has no {_missing_object(text, table)}, needed to {verb} "
                f"{table} ({text}): run `dmledger cloud upgrade` (or check cloud_schema); "
                "queued work stays queued"
            )
        return CloudError(f"cloud {where} refused the statement: {text}")
    if isinstance(error, OSError | exc.TimeoutError):
        return CloudUnavailable(f"cloud {where} is unreachable: {error}")
    return CloudError(f"cloud {where}: {error}")


def _denied(verb: str, table: str, user: str, text: str, url: str) -> CloudPermissionDenied:
    if _backend(url) == "sqlite":
        # A read-only file refuses every statement alike, never one edit: no verb, so
        # the sync stops with the queue intact instead of setting deletions aside.
        return CloudPermissionDenied(
            f"the cloud file {redact_url(url)} cannot be written by this process ({text}): "
            "check the file's and its folder's permissions; queued work stays queued"
        )
    denied = CloudPermissionDenied(
        f"the cloud user {user} is not allowed to {verb} {table} ({text}): "
        "ask the team lead for the right "
        f"(`dmledger cloud grants --role operator --user {user} --apply`); "
        "queued work stays queued"
    )
    denied.verb = verb.split()[0]
    return denied


def _backend(url: str) -> str | None:
    try:
        return backend_of(url)
    except InvalidInput:
        return None


_TARGET = re.compile(
    r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|SELECT\b.*?\bFROM)"
    r"\s+\(?\s*([A-Za-z_][\w.]*)",
    re.IGNORECASE | re.DOTALL,
)
_NAMED_TABLE = re.compile(r"(?:for|on|of) (?:table|relation) \"?([\w.]+)", re.IGNORECASE)


_MAIN_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|SELECT)\b", re.IGNORECASE)


def _main_statement(statement: str) -> str:
    """The statement after its ``WITH …`` clauses (the first keyword outside them)."""
    if not statement.lstrip().upper().startswith("WITH"):
        return statement
    depth = 0
    for i, char in enumerate(statement):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and _MAIN_WORD.match(statement, i) and not statement[i - 1].isalnum():
            return statement[i:]
    return statement


def _statement_target(statement: str, text: str) -> tuple[str, str]:
    """(the right a statement needs, the table it names): "INSERT into outreach_logs"."""
    found = _TARGET.match(_main_statement(statement))
    if found is None:  # DDL and the like: its first word is the right it needs
        words = statement.split()
        verb, table = (words[0] if words else "use"), (words[2] if len(words) > 2 else "it")
    else:
        verb, table = found.group(1), found.group(2)
    verb = verb.split()[0].upper()
    named = _NAMED_TABLE.search(text)
    if named is not None:
        table = named.group(1)
    preposition = {"INSERT": "into ", "DELETE": "from ", "SELECT": "from ", "MERGE": "into "}
    target = preposition.get(verb, "") + table.lower()
    return ("INSERT or UPDATE" if verb == "MERGE" else verb), target


def _missing_object(text: str, table: str) -> str:
    column = re.search(r'column "?([\w.]+)"?', text) or re.search(r"no such column: ([\w.]+)", text)
    if column is not None:
        return f"column {column.group(1)}"
    named = re.search(r'relation "([\w.]+)"', text) or re.search(r"no such table: ([\w.]+)", text)
    return f"table {named.group(1)}" if named else f"table {table.split()[-1]}"


def _user_of(url: str) -> str:
    try:
        return make_url(url).username or "(the configured user)"
    except exc.ArgumentError:
        return "(the configured user)"
