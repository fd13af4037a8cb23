"""The small interface through which the sync engine talks to the cloud.

Production and the integration tests use ``StoreGateway`` over the real
SQLAlchemy-backed CloudStore. Tests wrap it to fail after statement N, which gives
deterministic crash points without touching the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dmledger.cloud.store import CloudStore
from dmledger.domain.records import ActorRow, CloudHeader, Cursor, Edit, OutgoingLog, PulledRow


class CloudGateway(Protocol):
    def header(self, *, with_count: bool) -> CloudHeader:
        """The clock, tombstone horizon and people (one round trip; two with a count)."""

    def pull_page(self, after: Cursor, limit: int) -> list[PulledRow]:
        """Changes after ``after`` in cloud order (one round trip)."""

    def push_logs(
        self, batch: Sequence[OutgoingLog], operators: Sequence[str], actors: Sequence[ActorRow]
    ) -> None:
        """Apply a batch of DMs in one cloud transaction (idempotent)."""

    def push_edits(self, edits: Sequence[Edit]) -> None:
        """Apply outbox edits in order, in one cloud transaction."""


class StoreGateway:
    """CloudGateway over a CloudStore."""

    def __init__(self, store: CloudStore) -> None:
        self.store = store

    def header(self, *, with_count: bool) -> CloudHeader:
        with self.store.reading() as conn:
            return self.store.header(conn, with_count=with_count)

    def pull_page(self, after: Cursor, limit: int) -> list[PulledRow]:
        with self.store.reading() as conn:
            return self.store.pull_page(conn, after, limit)

    def push_logs(
        self, batch: Sequence[OutgoingLog], operators: Sequence[str], actors: Sequence[ActorRow]
    ) -> None:
        with self.store.transaction() as conn:
            self.store.ensure_people(conn, operators, actors)
            self.store.push_logs(conn, batch)

    def push_edits(self, edits: Sequence[Edit]) -> None:
        with self.store.transaction() as conn:
            self.store.push_edits(conn, edits)
