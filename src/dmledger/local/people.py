"""The cached people and Team figures: operators and actors as last read from the
cloud (plus local-only ones), and the Team page's last answers for offline use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from dmledger.domain.records import ActorRow
from dmledger.domain.timeutil import iso
from dmledger.local import schema
from dmledger.local.base import StoreBase
from dmledger.local.rows import from_iso
from dmledger.local.schema import actors, operators


class PeopleCache(StoreBase):
    """Operators, actors and the Team cache."""

    # -- people cache ----------------------------------------------------------------

    def replace_people(
        self, conn: sa.Connection, operator_names: Sequence[str], actor_rows: Sequence[ActorRow]
    ) -> None:
        """Refresh the cached operators and actors from the cloud, keeping local-only ones.

        One statement per table (every sync does this, so it is on the no-op path)."""
        if operator_names:
            conn.execute(
                sa.insert(operators).prefix_with("OR IGNORE"),
                [{"operator_name": name} for name in operator_names],
            )
        if actor_rows:
            conn.execute(
                sa.insert(actors).prefix_with("OR REPLACE"),
                [
                    {"username": a.username, "owner_operator": a.owner_operator, "status": a.status}
                    for a in actor_rows
                ],
            )

    def remember_actor(self, conn: sa.Connection, actor: ActorRow) -> None:
        conn.execute(
            sa.insert(actors)
            .prefix_with("OR IGNORE")
            .values(
                username=actor.username, owner_operator=actor.owner_operator, status=actor.status
            )
        )
        if actor.owner_operator:
            conn.execute(
                sa.insert(operators)
                .prefix_with("OR IGNORE")
                .values(operator_name=actor.owner_operator)
            )

    def get_actor(self, conn: sa.Connection, username: str) -> ActorRow | None:
        row = conn.execute(sa.select(actors).where(actors.c.username == username)).first()
        return None if row is None else ActorRow(row.username, row.owner_operator, row.status)

    def list_actors(self, conn: sa.Connection) -> list[ActorRow]:
        return [
            ActorRow(r.username, r.owner_operator, r.status)
            for r in conn.execute(sa.select(actors).order_by(actors.c.username))
        ]

    def list_operators(self, conn: sa.Connection) -> list[str]:
        return [
            str(r[0])
            for r in conn.execute(
                sa.select(operators.c.operator_name).order_by(operators.c.operator_name)
            )
        ]

    def owner_operator_of(self, conn: sa.Connection, actor: str | None) -> str | None:
        if actor is None:
            return None
        found = self.get_actor(conn, actor)
        return None if found is None else found.owner_operator

    # -- team cache ----------------------------------------------------------------

    def get_team_cache(self, conn: sa.Connection, key: str) -> tuple[str, datetime] | None:
        row = conn.execute(
            sa.select(schema.team_cache).where(schema.team_cache.c.key == key)
        ).first()
        if row is None:
            return None
        fetched = from_iso(row.fetched_at)
        assert fetched is not None
        return str(row.payload), fetched

    def put_team_cache(self, conn: sa.Connection, key: str, payload: str, at: datetime) -> None:
        conn.execute(
            sa.insert(schema.team_cache)
            .prefix_with("OR REPLACE")
            .values(key=key, payload=payload, fetched_at=iso(at))
        )
