"""The domain's DM rule (``domain/rules.py``, ``domain/statuses.py``) as SQL expressions.

One function per rule, over the columns of the row as it is (``cur``) and of the
incoming DM (``new``: its actor as ``owner_actor``, its time as ``first_contacted``).
Every dialect's statement is built from these same expressions: PostgreSQL's and
SQLite's ``ON CONFLICT … DO UPDATE`` (``cur`` the table, ``new`` its ``excluded`` row)
and Oracle's ``MERGE`` (``cur`` the target alias, ``new`` the source row). The
property tests in tests/cloud/test_rules_sql.py run them against the domain rule;
tests/cloud/test_oracle_static.py checks the Oracle MERGE has the same trees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from dmledger.domain.statuses import Status

Col = sa.ColumnElement[Any]

# Constants of the rule, written into the statement (not user input, never a bind).
_NEW = sa.literal_column(f"'{Status.NEW.value}'", sa.String)
_CONTACTED = sa.literal_column(f"'{Status.CONTACTED.value}'", sa.String)


class Contacted(Protocol):
    """The columns of a prospect row the DM rule reads (a table's ``c``, an
    ``excluded`` row, a MERGE source)."""

    @property
    def status(self) -> Col: ...

    @property
    def owner_actor(self) -> Col: ...

    @property
    def first_contacted(self) -> Col: ...


@dataclass(frozen=True)
class ContactUpdate:
    """What a DM does to an existing row: each column's new value, and when the row
    changes at all (a DM that changes nothing must not touch it: the row's version
    would move and every cache would pull it again)."""

    values: dict[str, Col]
    where: sa.ColumnElement[bool]


def is_new(status: Col) -> sa.ColumnElement[bool]:
    """``status_after_dm``'s test: no status, or ``new`` in any case."""
    return sa.or_(status.is_(None), sa.func.lower(status) == _NEW)


def status_after_dm(status: Col) -> Col:
    """``domain.statuses.status_after_dm``: ``new`` becomes ``contacted``, any later
    status stays (a DM never moves a lead backwards)."""
    return sa.case((is_new(status), _CONTACTED), else_=status)


def takes_ownership(cur: Contacted, new: Contacted) -> sa.ColumnElement[bool]:
    """``domain.rules.apply_dm``'s test: the DM is the lead's first contact (none was
    recorded), or earlier than the recorded one, or as early and from an actor first
    in alphabetical order (the tie-break every machine agrees on)."""
    # The row's column on the left: a MERGE source's columns are plain ColumnClauses,
    # and Python would otherwise let the table's Column reflect the operator
    # (``t.x > s.x``), giving Oracle a different tree from the other dialects.
    return sa.or_(
        cur.first_contacted.is_(None),
        cur.first_contacted > new.first_contacted,
        sa.and_(
            cur.first_contacted == new.first_contacted,
            cur.owner_actor > new.owner_actor,
        ),
    )


def contact_update(cur: Contacted, new: Contacted) -> ContactUpdate:
    """``domain.rules.apply_dm`` on an existing row: the status after a DM; the owner
    and first contact from the earliest DM (a first DM keeps an owner already set)."""
    earlier = takes_ownership(cur, new)
    keep_owner = sa.func.coalesce(cur.owner_actor, new.owner_actor)
    return ContactUpdate(
        values={
            "status": status_after_dm(cur.status),
            "owner_actor": sa.case(
                (cur.first_contacted.is_(None), keep_owner),
                (earlier, new.owner_actor),
                else_=keep_owner,
            ),
            "first_contacted": sa.case((earlier, new.first_contacted), else_=cur.first_contacted),
        },
        where=sa.or_(is_new(cur.status), earlier, cur.owner_actor.is_(None)),
    )


def contact_row(target: str, actor: str, sent_at: datetime | None) -> dict[str, Any]:
    """``domain.rules.apply_dm`` on no row: the lead as its first DM makes it."""
    return {
        "target_username": target,
        "status": Status.CONTACTED.value,
        "owner_actor": actor,
        "first_contacted": sent_at,
    }


def same_key(target: sa.FromClause, source: sa.FromClause, keys: Sequence[str]) -> Col:
    """The insert-if-absent's match: a row is there when every key column is equal
    (what ``ON CONFLICT (keys)`` means; Oracle's MERGE says it as its ``ON``)."""
    return sa.and_(*(target.c[key] == source.c[key] for key in keys))
