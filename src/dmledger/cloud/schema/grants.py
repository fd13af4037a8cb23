"""Least-privilege database roles: what a teammate's agent needs, and nothing more.

An operator's agent reads and writes prospects and DMs, registers operators and
actors, and reads the sync bookkeeping. It gets no DDL, no DELETE on outreach logs
(a lead that has DMs can only be deleted by the team lead's user) and cannot reset
the cloud. The triggers that maintain the sync clock and the tombstones run with the
schema owner's rights (PostgreSQL ``SECURITY DEFINER``; Oracle triggers always do),
so the role needs no write access to them. :func:`ensure_login` creates the login
user itself (``dmledger team pack``).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dmledger.cloud.analytics.rollups import OPERATOR_GRANTS as ROLLUP_GRANTS
from dmledger.cloud.connecting.identifiers import check_identifier
from dmledger.errors import InvalidInput, Refused

if TYPE_CHECKING:
    from dmledger.cloud.connecting.database import CloudDatabase

log = logging.getLogger(__name__)

ROLES = ("operator",)

# (table, privileges): the operator role's whole grant.
OPERATOR_GRANTS: tuple[tuple[str, str], ...] = (
    ("prospects", "SELECT, INSERT, UPDATE, DELETE"),
    ("outreach_logs", "SELECT, INSERT"),
    ("operators", "SELECT, INSERT"),
    ("actors", "SELECT, INSERT, UPDATE"),
    ("prospect_tombstones", "SELECT"),
    ("sync_clock", "SELECT"),
    # The team's follow-up objects (schema version 5): a teammate records replies (and
    # deletes them with a lead it may delete), edits the templates and the rule. A
    # change to those bumps ``dmledger_info.team_version`` so every home reads them
    # again: hence INSERT and UPDATE there (a row-level limit would need a definer
    # function on each backend; the row holds no secret).
    ("prospect_replies", "SELECT, INSERT, DELETE"),
    ("message_templates", "SELECT, INSERT, UPDATE, DELETE"),
    ("team_rules", "SELECT, INSERT, UPDATE"),
    ("dmledger_info", "SELECT, INSERT, UPDATE"),
    *ROLLUP_GRANTS,  # the Team rollups (cloud/analytics/rollups.py)
)


def grant_statements(dialect: str, role: str, user: str, *, owner: str | None = None) -> list[str]:
    """The statements giving ``user`` the ``role`` on this dialect.

    PostgreSQL: ``owner`` is the schema holding the tables (default ``public``).
    Oracle: ``owner`` is the schema owner (default ``ADMIN``, the ATP admin user);
    the agent then sets ``CURRENT_SCHEMA`` to it on connect.
    """
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of: {', '.join(ROLES)}")
    check_identifier(user)
    if dialect == "postgresql":
        schema = check_identifier(owner or "public", "schema")
        statements = [f"GRANT USAGE ON SCHEMA {schema} TO {user}"]
        statements += [
            f"GRANT {privileges} ON {schema}.{table} TO {user}"
            for table, privileges in OPERATOR_GRANTS
        ]
        return statements
    if dialect == "oracle":
        schema = check_identifier(owner or "ADMIN", "schema").upper()
        statements = [f"GRANT CREATE SESSION TO {user}"]
        statements += [
            f"GRANT {privileges} ON {schema}.{table.upper()} TO {user}"
            for table, privileges in OPERATOR_GRANTS
        ]
        return statements
    raise InvalidInput(
        f"grants are for a shared database (postgresql or oracle), not {dialect!r}: "
        "the embedded SQLite cloud has no users"
    )


# --------------------------------------------------------------------------- login users

_LOGIN_PASSWORD = re.compile(r"[A-Za-z0-9]{16,30}")
_HIDDEN = "<statement hidden: it holds a password>"


def login_name(dialect: str, user: str) -> str:
    """``user`` as the database stores an unquoted name: lower case on PostgreSQL,
    upper case on Oracle. InvalidInput when it is not a plain identifier."""
    name = check_identifier(user)
    return name.lower() if dialect == "postgresql" else name.upper()


def login_statement(dialect: str, user: str, secret: str, *, exists: bool) -> str:
    """The statement creating login user ``user`` (or setting its password when it
    ``exists``). ``secret`` is the password (Oracle) or its SCRAM verifier (PostgreSQL),
    written as a literal: DDL takes no bound parameters, so callers pass only values
    they generated and checked."""
    if dialect == "postgresql":
        verb = "ALTER" if exists else "CREATE"
        return f"{verb} ROLE {user} WITH LOGIN PASSWORD '{secret}'"
    if dialect == "oracle":
        if exists:
            return f'ALTER USER {user} IDENTIFIED BY "{secret}" ACCOUNT UNLOCK'
        return f'CREATE USER {user} IDENTIFIED BY "{secret}"'
    raise InvalidInput(
        f"database users exist only on a shared database (postgresql or oracle), not {dialect!r}"
    )


def ensure_login(db: CloudDatabase, user: str, password: str) -> bool:
    """Make ``user`` a login user of the cloud with ``password``; True when it was created,
    False when it existed and only its password was set (and, on Oracle, unlocked).

    ``password`` must be 16 to 30 letters and digits (what ``team pack`` generates; it
    fits Oracle's password rules and needs no quoting). On PostgreSQL the password is
    turned into a SCRAM verifier here, so the plain text never reaches the server or
    its statement log. Refused: the user ``db`` is connected as, the owner of the
    tables, and administrators (PostgreSQL roles that are superusers or may create
    roles or databases, replicate or bypass row security; Oracle's ADMIN, SYS, SYSTEM):
    resetting their password would lock the lead out, and handing them to an agent
    would defeat the least privilege. Raises InvalidInput for a bad name or password.
    """
    if not _LOGIN_PASSWORD.fullmatch(password):
        raise InvalidInput("a login password must be 16 to 30 letters and digits")
    dialect = db.dialect
    name = login_name(dialect, user)
    owner = (db.current_schema() or "").lower()
    with db.transaction() as conn:
        if dialect == "postgresql":
            current = str(conn.exec_driver_sql("SELECT current_user").scalar())
            row = conn.execute(
                sa.text(
                    "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication "
                    "OR rolbypassrls FROM pg_roles WHERE rolname = :name"
                ),
                {"name": name},
            ).first()
            table_owner = conn.execute(
                sa.text(
                    "SELECT tableowner FROM pg_tables "
                    "WHERE schemaname = current_schema() AND tablename = 'prospects'"
                )
            ).scalar()
            exists, superuser = row is not None, bool(row and row[0])
            protected = {current.lower(), str(table_owner or "").lower()}
            secret = _scram_verifier(conn, name, password)
        elif dialect == "oracle":
            current = str(conn.exec_driver_sql("SELECT USER FROM dual").scalar())
            exists = bool(
                conn.execute(
                    sa.text("SELECT COUNT(*) FROM ALL_USERS WHERE USERNAME = :name"),
                    {"name": name},
                ).scalar()
            )
            superuser = name in {"ADMIN", "SYS", "SYSTEM"}
            protected = {current.lower(), owner}
            secret = password
        else:
            raise InvalidInput(
                "the embedded SQLite cloud has no database users: teammates cannot share it"
            )
        if superuser or name.lower() in protected - {""}:
            raise Refused(
                f"database user {name!r} is the team lead's own or an administrator: "
                "choose another --user for the teammates' agents"
            )
        try:
            conn.exec_driver_sql(login_statement(dialect, name, secret, exists=exists))
        except sa.exc.StatementError as error:
            error.statement = _HIDDEN  # what str(error) would show holds the password
            raise
    return not exists


def _scram_verifier(conn: sa.Connection, name: str, password: str) -> str:
    """The server-side form of ``password`` (SCRAM-SHA-256 on current servers), computed
    by libpq on this machine; the plain password when the driver cannot do it."""
    import psycopg

    pgconn = getattr(conn.connection.dbapi_connection, "pgconn", None)
    if pgconn is None:
        return password
    try:
        verifier = pgconn.encrypt_password(password.encode(), name.encode())
    except psycopg.Error as error:  # libpq before 10, or a server that will not say
        log.info("password sent as is: libpq could not encrypt it (%s)", error)
        return password
    return bytes(verifier).decode("ascii")
