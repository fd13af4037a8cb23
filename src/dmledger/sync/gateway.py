"""The small interface through which the sync engine talks to the cloud.

Production and the integration tests use ``StoreGateway`` over the real
SQLAlchemy-backed CloudStore. Tests wrap it to fail after statement N, which gives
deterministic crash points without touching the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dmledger.cloud import CloudStore, apply_team_edits, read_team_config
from dmledger.domain.records import (
    ActorRow,
    CloudHeader,
    Cursor,
    Edit,
    OutgoingLog,
    PulledRow,
    TeamConfig,
    TeamEdit,
)


class CloudGateway(Protocol):
    def header(self, *, with_count: bool) -> CloudHeader:
        """The clock, tombstone horizon and people (one round trip; two with a count)."""

    def header_and_page(self, after: Cursor, limit: int) -> tuple[CloudHeader, list[PulledRow]]:
        """The header, then the first page of changes after ``after`` read as
        ``pull_page`` would read it next: one round trip on PostgreSQL (a pipeline)."""

    def pull_page(self, after: Cursor, limit: int) -> list[PulledRow]:
        """Changes after ``after`` in cloud order (one round trip)."""

    def push(
        self,
        items: Sequence[OutgoingLog | Edit],
        operators: Sequence[str],
        actors: Sequence[ActorRow],
    ) -> list[Edit]:
        """Apply a batch of the journal (DMs and edits, in the order made) in one cloud
        transaction (idempotent); returns the edits dropped because their lead is gone."""

    def team_config(self) -> TeamConfig:
        """The team's rules and templates (one round trip; only when the header's
        ``team_version`` changed)."""

    def push_team_edits(self, edits: Sequence[TeamEdit]) -> None:
        """This home's queued template and rule changes, in one cloud transaction (only
        when there are some)."""

    def settle(self) -> bool:
        """Wait briefly until transactions open now have ended (PostgreSQL), so the pull
        that follows a push reads the push's own rows (one round trip)."""


class StoreGateway:
    """CloudGateway over a CloudStore."""

    def __init__(self, store: CloudStore) -> None:
        self.store = store

    def header(self, *, with_count: bool) -> CloudHeader:
        with self.store.reading() as conn:
            # settle: the pull then reads what was committed before this sync started.
            return self.store.header(conn, with_count=with_count, settle=True)

    def header_and_page(self, after: Cursor, limit: int) -> tuple[CloudHeader, list[PulledRow]]:
        with self.store.reading() as conn:
            return self.store.header_and_page(conn, after, limit, settle=True)

    def pull_page(self, after: Cursor, limit: int) -> list[PulledRow]:
        with self.store.reading() as conn:
            return self.store.pull_page(conn, after, limit)

    def push(
        self,
        items: Sequence[OutgoingLog | Edit],
        operators: Sequence[str],
        actors: Sequence[ActorRow],
    ) -> list[Edit]:
        dropped: list[Edit] = []
        with self.store.transaction() as conn:
            self.store.ensure_people(conn, operators, actors)
            for edits, logs in journal_segments(items):
                dropped += self.store.push_edits(conn, edits)
                self.store.push_logs(conn, logs)
        return dropped

    def team_config(self) -> TeamConfig:
        with self.store.reading() as conn:
            return read_team_config(conn)

    def push_team_edits(self, edits: Sequence[TeamEdit]) -> None:
        with self.store.transaction() as conn:
            apply_team_edits(conn, edits)

    def settle(self) -> bool:
        return self.store.settle()


def journal_segments(
    items: Sequence[OutgoingLog | Edit],
) -> list[tuple[list[Edit], list[OutgoingLog]]]:
    """Cut journal items into segments of (edits, then DMs) that keep each lead's order.

    A segment's edits are applied before its DMs. An edit only needs a new segment
    when it follows a DM to the same lead; everything else commutes, so a batch costs
    a few statements, not one per item.
    """
    segments: list[tuple[list[Edit], list[OutgoingLog]]] = [([], [])]
    messaged: set[str] = set()
    for item in items:
        if isinstance(item, Edit):
            if item.target in messaged:
                segments.append(([], []))
                messaged = set()
            segments[-1][0].append(item)
        else:
            segments[-1][1].append(item)
            messaged.add(item.target)
    return segments
