"""Engines for the three backends, error translation, and round-trip counting.

Every cloud connection runs in UTC: PostgreSQL and Oracle sessions get their time
zone set, SQLite has no other. The embedded SQLite cloud gets WAL, a busy timeout
and foreign keys, like a real server would enforce them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url

from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudRowRefused,
    CloudSchemaError,
    CloudUnavailable,
    InvalidInput,
)

log = logging.getLogger(__name__)

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "oracle")
_PG_OPTIONS = "-c timezone=UTC -c lock_timeout=30000"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable URL>"


def backend_of(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``oracle``; InvalidInput for anything else."""
    try:
        name = make_url(url).get_backend_name()
    except exc.ArgumentError:
        raise InvalidInput(
            f"cloud URL {redact_url(url)!r} is not a database URL: expected e.g. "
            "sqlite:///PATH, postgresql+psycopg://USER@HOST/DB or oracle+oracledb://USER@ALIAS"
        ) from None
    if name not in SUPPORTED_SCHEMES:
        raise InvalidInput(
            f"cloud URL {redact_url(url)!r} uses {name!r}: supported are "
            + ", ".join(SUPPORTED_SCHEMES)
        )
    return name


def create_cloud_engine(
    url: str, *, password: str | None = None, connect_timeout: float = 10.0
) -> sa.Engine:
    """An Engine for a sqlite or postgresql cloud URL (Oracle goes through ``oracle.py``).

    ``password`` (from the environment or the keyring) is added to the URL in memory
    only. Does not connect.
    """
    backend = backend_of(url)
    parsed = make_url(url)
    if password is not None and parsed.password is None:
        parsed = parsed.set(password=password)
    if backend == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # Sessions run in UTC, and a write waiting on a lock gives up after 30 s
        # (the sync retries later) instead of hanging. Options in the URL are kept.
        given = parsed.query.get("options")
        options = " ".join(
            part for part in ((given if isinstance(given, str) else None), _PG_OPTIONS) if part
        )
        parsed = parsed.difference_update_query(["options"])
        return sa.create_engine(
            parsed,
            pool_pre_ping=False,
            connect_args={
                "connect_timeout": max(1, int(connect_timeout)),
                "options": options,
                "application_name": "dmledger",
            },
        )
    raise InvalidInput("Oracle clouds are opened from the wallet settings, not a bare URL")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def translate(error: BaseException, url: str) -> CloudError:
    """Turn a driver or SQLAlchemy error into a DM Ledger error a person can act on.

    The class says what the sync does with it (see :func:`classify`): CloudRowRefused
    sets rows aside, CloudUnavailable retries later, anything else stops the sync with
    the queue intact.
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
        verb, table = _statement_target(error.statement or "", text)
        user = _user_of(url)
        if kind == "right":
            denied = CloudPermissionDenied(
                f"the cloud user {user} is not allowed to {verb} {table} ({text}): "
                "ask the team lead for the right "
                f"(`dmledger cloud grants --role operator --user {user} --apply`); "
                "queued work stays queued"
            )
            denied.verb = verb.split()[0]
            return denied
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


def _is_unreachable(error: exc.DBAPIError) -> bool:
    if isinstance(error, exc.OperationalError):
        text = str(error.orig).lower()
        refused_words = (
            "connection",
            "could not",
            "timeout",
            "timed out",
            "server closed",
            "terminat",
            "unable to open database",
            "no such host",
            "network",
            "eof",
            "ssl",
            "consuming input failed",
        )
        return any(word in text for word in refused_words)
    return False


# The one classification of database refusals, by code. PostgreSQL SQLSTATEs and
# Oracle ORA- numbers side by side; SQLite has no codes worth the name, so its
# exception class and words stand in.
_TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03")  # serialization, deadlock, lock wait
_TRANSIENT_WORDS = ("ora-00060", "ora-08177", "database is locked", "database table is locked")
# A row's data: integrity (class 23) and data exceptions (class 22).
_ROW_SQLSTATE_CLASSES = ("23", "22")
_ROW_ORA = frozenset(
    {
        "ORA-00001",  # unique constraint
        "ORA-01400",  # cannot insert NULL
        "ORA-01407",  # cannot update to NULL
        "ORA-02290",  # check constraint
        "ORA-02291",  # parent key not found
        "ORA-02292",  # child record found
        "ORA-01438",  # value larger than precision
        "ORA-01722",  # invalid number
        "ORA-12899",  # value too large for column
        "ORA-01841",  # (full) year out of range
        "ORA-01847",  # day of month out of range
        "ORA-01861",  # literal does not match format
    }
)
_ROW_ORA_USER_RANGE = range(20000, 21000)  # raise_application_error in a trigger
# A missing right, table or column: about the whole table, never one row.
_RIGHT_SQLSTATES = ("42501",)
_RIGHT_ORA = frozenset({"ORA-01031", "ORA-01950", "ORA-01536"})
_SCHEMA_SQLSTATES = ("42P01", "42703")  # undefined table, undefined column
_SCHEMA_ORA = frozenset({"ORA-00942", "ORA-00904"})
_SCHEMA_SQLITE_WORDS = ("no such table", "no such column", "has no column named")
_ORA_CODE = re.compile(r"ORA-(\d{5})")

Refusal = Literal["unreachable", "busy", "row", "right", "schema", "other"]


def classify(error: exc.DBAPIError) -> Refusal:
    """What a driver error means for the sync.

    ``row``: the data of a row was refused; the batch is split to find it and only it
    is set aside. ``unreachable``/``busy``: try again later. ``right``/``schema``: a
    missing privilege, table or column, about every row alike; the sync stops with
    the queue intact. ``other``: not understood; the sync stops too (never set aside).
    """
    if error.connection_invalidated or _is_unreachable(error):
        return "unreachable"
    original = error.orig
    text = str(original) if original is not None else str(error)
    sqlstate = getattr(original, "sqlstate", None)
    lowered = text.lower()
    if sqlstate in _TRANSIENT_SQLSTATES or any(w in lowered for w in _TRANSIENT_WORDS):
        return "busy"
    codes = {f"ORA-{n}" for n in _ORA_CODE.findall(text)}
    if sqlstate in _RIGHT_SQLSTATES or codes & _RIGHT_ORA or "permission denied" in lowered:
        return "right"
    if (
        sqlstate in _SCHEMA_SQLSTATES
        or codes & _SCHEMA_ORA
        or any(w in lowered for w in _SCHEMA_SQLITE_WORDS)
    ):
        return "schema"
    if isinstance(sqlstate, str) and sqlstate[:2] in _ROW_SQLSTATE_CLASSES:
        return "row"
    if codes & _ROW_ORA or any(int(c[4:]) in _ROW_ORA_USER_RANGE for c in codes):
        return "row"
    if sqlstate is None and not codes and isinstance(error, exc.IntegrityError):
        return "row"  # SQLite: a constraint, or a trigger's RAISE(ABORT, ...)
    return "other"


def is_row_refusal(error: exc.DBAPIError) -> bool:
    """True when the database refused the data itself, not the table or the connection.

    Such a batch is split to find the rows to set aside; anything else stops the sync,
    which is retried later with the queue intact.
    """
    return classify(error) == "row"


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


@dataclass
class RoundTrips:
    """Statements and commits sent on an engine's connections while counting."""

    statements: int = 0
    commits: int = 0

    @property
    def total(self) -> int:
        return self.statements + self.commits


@contextlib.contextmanager
def count_round_trips(engine: sa.Engine) -> Iterator[RoundTrips]:
    """Count the cloud round trips made inside the block (an executemany counts once)."""
    counts = RoundTrips()

    def on_execute(*_args: object) -> None:
        counts.statements += 1

    def on_commit(_conn: object) -> None:
        counts.commits += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
