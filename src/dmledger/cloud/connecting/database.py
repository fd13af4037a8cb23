"""The database handle: one Engine, its three kinds of connection, and driver errors
translated on the way out.

Everything below ``CloudStore`` that needs more than one connection (the upgrade
chain, the Team fold, the grants) takes this handle, never the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from dmledger.cloud.driver_errors import translate

# What makes a transaction's reads one snapshot (see ``CloudDatabase.snapshot``).
_SNAPSHOT_OPTIONS: dict[str, dict[str, Any]] = {
    "postgresql": {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True},
    "oracle": {"isolation_level": "SERIALIZABLE"},
}


class CloudDatabase:
    """The shared database, through one SQLAlchemy Engine.

    Writes take a Connection from ``transaction()`` so a caller groups statements into
    one commit; reads use ``reading()``, an autocommit connection (one round trip per
    statement, no COMMIT to pay for).
    """

    def __init__(self, engine: sa.Engine, url: str | None = None) -> None:
        self.engine = engine
        self.url = url or engine.url.render_as_string(hide_password=True)
        self.dialect = engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One cloud transaction: committed on success, rolled back on any error.

        Driver errors come out as DM Ledger errors (CloudUnavailable for a lost
        connection). The original SQLAlchemy error is kept as ``__cause__``.
        """
        with self._translated(), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """An autocommit connection for reads: each statement is one round trip."""
        with self._translated(), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sa.Connection]:
        """Reads that all see the same moment, whatever commits meanwhile: one read-only
        transaction (PostgreSQL ``BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ``;
        Oracle SERIALIZABLE, checked on paper only; SQLite's WAL snapshot from an
        explicit BEGIN, which pysqlite sends only before a write). For a page of
        figures that must add up; a BEGIN and a COMMIT more than ``reading``."""
        options: dict[str, Any] = _SNAPSHOT_OPTIONS.get(self.dialect, {})
        with self._translated(), self.engine.connect() as opened:
            conn = opened.execution_options(**options)
            with conn.begin():
                if self.dialect == "sqlite":
                    conn.exec_driver_sql("BEGIN")
                yield conn

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver and socket errors raised inside come out as DM Ledger errors
        (``driver_errors.translate``), the original kept as ``__cause__``."""
        try:
            yield
        except sa.exc.SQLAlchemyError as error:
            raise translate(error, self.url) from error
        except OSError as error:
            raise translate(error, self.url) from error

    def existing_tables(self) -> set[str]:
        """The names of the tables the database holds, in lower case."""
        with self.reading() as conn:
            return {name.lower() for name in sa.inspect(conn).get_table_names()}

    def current_schema(self) -> str | None:
        """The schema holding the tables (PostgreSQL and Oracle), for grants."""
        if self.dialect == "postgresql":
            query = "SELECT current_schema()"
        elif self.dialect == "oracle":
            query = "SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM dual"
        else:
            return None
        with self.reading() as conn:
            value = conn.exec_driver_sql(query).scalar()
        return None if value is None else str(value)

    def dispose(self) -> None:
        self.engine.dispose()
