"""Oracle's ``MERGE`` as a SQLAlchemy construct, so its conditions are expressions.

SQLAlchemy has no MERGE. This construct takes the same expressions the PostgreSQL and
SQLite ``ON CONFLICT`` statements are built from (``rules_sql.py``) and renders
them in Oracle's form; only Oracle compiles it. The source is one row of bound
parameters selected from ``dual``, run as array DML (one execute for a batch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.sql.selectable import NamedFromClause

#: The alias of the table merged into, and of the incoming row.
TARGET, SOURCE = "t", "s"


class Merge(Executable, ClauseElement):
    """``MERGE INTO target USING (one row of binds) ON (on) WHEN MATCHED THEN UPDATE
    SET … WHERE … WHEN NOT MATCHED THEN INSERT (every source column)``.

    ``update`` (column name to expression) and ``where`` are optional: without them the
    statement is an insert-if-absent.
    """

    inherit_cache = False  # built per call from a batch's columns; nothing to cache

    def __init__(
        self,
        target: NamedFromClause[Any],
        source: sa.Subquery,
        on: sa.ColumnElement[bool],
        *,
        update: Mapping[str, sa.ColumnElement[Any]] | None = None,
        where: sa.ColumnElement[bool] | None = None,
    ) -> None:
        self.target = target
        self.source = source
        self.on = on
        self.update = dict(update or {})
        self.where = where


def merge_source(table: sa.Table, columns: Sequence[str]) -> sa.Subquery:
    """``(SELECT :c AS c, … FROM dual) s``: one incoming row, typed like ``table``."""
    return sa.select(
        *(sa.bindparam(name, type_=table.c[name].type).label(name) for name in columns)
    ).subquery(SOURCE)


@compiles(Merge, "oracle")
def _render_merge(element: Merge, compiler: SQLCompiler, **kw: Any) -> str:
    target = compiler.process(element.target, asfrom=True, **kw)
    source = compiler.process(element.source, asfrom=True, **kw)
    sql = f"MERGE INTO {target} USING {source} ON ({compiler.process(element.on, **kw)})"
    if element.update:
        sets = ", ".join(
            f"{compiler.process(element.target.c[name], **kw)} = {compiler.process(value, **kw)}"
            for name, value in element.update.items()
        )
        sql += f" WHEN MATCHED THEN UPDATE SET {sets}"
        if element.where is not None:
            sql += f" WHERE {compiler.process(element.where, **kw)}"
    names = [column.name for column in element.source.c]
    values = ", ".join(compiler.process(column, **kw) for column in element.source.c)
    return sql + f" WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({values})"


@compiles(Merge)
def _no_merge(element: Merge, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError(
        f"MERGE is built for Oracle only, not {compiler.dialect.name}: "
        "PostgreSQL and SQLite use INSERT … ON CONFLICT (cloud/upsert.py)"
    )
