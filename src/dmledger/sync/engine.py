"""One sync cycle: push DMs, push edits, pull changes. See ARCHITECTURE.md, "Sync protocol".

The invariants, and what keeps each of them:

- A DM reaches the cloud exactly once: each carries a client-made id that the cloud
  keeps unique (insert-if-absent), and it is marked synced locally only after the
  cloud committed it. A crash in between makes the next push a no-op for it.
- Nothing is missed: the cursor is the cloud's ``row_version``, handed out in
  commit order by the database. Each page and the cursor after it are written in
  one SQLite transaction, so a crash resumes exactly where it stopped.
- A pull never undoes local work: queued edits and DMs are pushed first, and those
  still queued (made during the sync, or set aside) are re-applied on top of every
  pulled page.
- Edits go before DMs, because a queued edit is usually older than a queued DM to the
  same lead (add a lead with notes, then message it; delete a lead, then message it
  again): the DMs' effects (contacted, earliest first contact owns) are then applied
  on top of the edited row, in the cloud as in the cache. Pushing DMs first lost the
  added lead's notes and status and, after a delete, the new DM itself.
- A purge of old tombstones that lands while a pull runs cannot hide a deletion: the
  version each pull starts from is kept, and the next sync resyncs fully if the
  purge horizon has passed it.
- A bad row never blocks the queue: a refused batch is split in halves until the
  refused rows are found; they are set aside with the error, the rest goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from dmledger.domain.records import ActorRow, Cursor, Edit, OutgoingLog, PulledRow
from dmledger.domain.timeutil import Clock, utcnow
from dmledger.errors import CloudError, CloudUnavailable, DmLedgerError
from dmledger.local.effects import apply_dm_to_cache, apply_edit_to_cache
from dmledger.local.store import LocalStore, iso
from dmledger.sync.gateway import CloudGateway
from dmledger.sync.lock import sync_lock

log = logging.getLogger(__name__)

LOG_BATCH = 1000
EDIT_BATCH = 1000
# Large pages: SQLite's trigram index writes a segment per transaction, so committing
# every 5,000 rows made a 1M-row initial pull 2x slower than every 50,000 (make bench,
# P2). The cost is a write lock held for a few seconds per page during a big pull.
PULL_PAGE = 50_000

_PULL_STARTED = "pull_started_version"  # meta: the cursor version the last pull began at

T = TypeVar("T")

Progress = Callable[[int, int | None], None]  # (rows pulled so far, expected total or None)


@dataclass
class SyncReport:
    """What one cycle moved."""

    pushed_logs: int = 0
    pushed_edits: int = 0
    pulled: int = 0
    deleted: int = 0
    set_aside: int = 0
    full_resync: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return bool(self.pushed_logs or self.pushed_edits or self.pulled or self.deleted)


class SyncEngine:
    """Syncs one home's local store with the cloud through a CloudGateway."""

    def __init__(
        self,
        home: Path,
        local: LocalStore,
        cloud: CloudGateway,
        *,
        clock: Clock = utcnow,
        log_batch: int = LOG_BATCH,
        edit_batch: int = EDIT_BATCH,
        pull_page: int = PULL_PAGE,
    ) -> None:
        self.home = home
        self.local = local
        self.cloud = cloud
        self.clock = clock
        self.log_batch = log_batch
        self.edit_batch = edit_batch
        self.pull_page_size = pull_page

    def sync_once(self, progress: Progress | None = None, *, wait: bool = False) -> SyncReport:
        """Push, then pull. Raises SyncBusy if another process syncs this home, and
        CloudUnavailable (queue intact) if the cloud drops out; records the outcome."""
        with sync_lock(self.home, wait=wait):
            report = SyncReport(started_at=self.clock())
            try:
                self._push_edits(report)
                self._push_logs(report)
                self._pull(report, progress)
            except DmLedgerError as error:
                self._record(last_error=str(error))
                raise
            report.finished_at = self.clock()
            self._record(last_error=None, last_sync_at=iso(report.finished_at))
            return report

    def _record(self, *, last_error: str | None, last_sync_at: str | None = None) -> None:
        with self.local.transaction() as conn:
            self.local.set_meta(conn, "last_error", last_error)
            self.local.set_meta(conn, "last_attempt_at", iso(self.clock()))
            if last_sync_at is not None:
                self.local.set_meta(conn, "last_sync_at", last_sync_at)

    # -- push ----------------------------------------------------------------------

    def _push_logs(self, report: SyncReport) -> None:
        ensured_operators: set[str] = set()
        ensured_actors: set[str] = set()
        while True:
            with self.local.reading() as conn:
                batch = self.local.pending_logs(conn, self.log_batch)
                actor_rows = {
                    a: self.local.get_actor(conn, a) for a in {item.actor for item in batch}
                }
            if not batch:
                return

            def push(
                items: Sequence[OutgoingLog], actor_rows: dict[str, ActorRow | None] = actor_rows
            ) -> None:
                operators = sorted({i.operator for i in items} - ensured_operators)
                actors = [
                    actor_rows.get(i.actor) or ActorRow(i.actor, i.operator, "active")
                    for i in items
                    if i.actor not in ensured_actors
                ]
                # Operators named as actor owners must exist before the actors do.
                operators = sorted(
                    set(operators) | {a.owner_operator for a in actors if a.owner_operator}
                )
                self.cloud.push_logs(items, operators, actors)
                ensured_operators.update(operators)
                ensured_actors.update(a.username for a in actors)

            def done(items: Sequence[OutgoingLog]) -> None:
                with self.local.transaction() as conn:
                    self.local.mark_logs_synced(conn, [i.local_id for i in items])
                report.pushed_logs += len(items)

            def refuse(item: OutgoingLog, error: str) -> None:
                with self.local.transaction() as conn:
                    self.local.set_log_aside(conn, item.local_id, error)
                report.set_aside += 1
                report.errors.append(f"DM {item.client_log_id} to {item.target}: {error}")

            _isolating(batch, push, done, refuse)

    def _push_edits(self, report: SyncReport) -> None:
        while True:
            with self.local.reading() as conn:
                batch = self.local.pending_edits(conn, self.edit_batch)
            if not batch:
                return

            def done(items: Sequence[Edit]) -> None:
                with self.local.transaction() as conn:
                    self.local.remove_edits(conn, [e.seq for e in items])
                report.pushed_edits += len(items)

            def refuse(item: Edit, error: str) -> None:
                with self.local.transaction() as conn:
                    self.local.set_edit_aside(conn, item.seq, error)
                report.set_aside += 1
                report.errors.append(f"{item.op} edit of {item.target}: {error}")

            _isolating(batch, self.cloud.push_edits, done, refuse)

    # -- pull ----------------------------------------------------------------------

    def _pull(self, report: SyncReport, progress: Progress | None) -> None:
        with self.local.reading() as conn:
            cursor = self.local.cursor(conn)
            resyncing = self.local.get_meta(conn, "resync_gen_active") is not None
            forced = self.local.get_meta(conn, "force_resync") is not None
            gen = int(self.local.get_meta(conn, "resync_gen") or 0)
            last_start = self.local.get_meta(conn, _PULL_STARTED)
        initial = cursor.version < 0
        header = self.cloud.header(with_count=initial and not resyncing)
        # The last pull saw every tombstone after where it started only if none was
        # purged while it ran: compare the purge horizon with that start.
        seen_from = cursor.version if last_start is None else min(cursor.version, int(last_start))
        # The clock never goes back: if it did, the cloud was reset or restored, and
        # a cursor past its clock would skip every new lead.
        went_back = cursor.version > header.version
        purged = seen_from < header.purged_through
        if went_back or (not resyncing and (initial or forced or purged)):
            # First pull, away longer than tombstones are kept, or a cloud that started
            # over: read everything and drop what the cloud no longer has at the end.
            resyncing = True
            report.full_resync = not initial
            gen += 1
            cursor = Cursor()
            with self.local.transaction() as conn:
                self.local.set_meta(conn, "resync_gen", str(gen))
                self.local.set_meta(conn, "resync_gen_active", "1")
                self.local.delete_meta(conn, "force_resync")
                self.local.set_cursor(conn, cursor)
        with self.local.transaction() as conn:
            self.local.replace_people(conn, header.operators, header.actors)
            self.local.set_meta(conn, _PULL_STARTED, str(cursor.version))
        done = 0
        total = header.prospect_count
        while True:
            page = self.cloud.pull_page(cursor, self.pull_page_size)
            if page:
                cursor = Cursor(page[-1].version, page[-1].handle)
                with self.local.transaction() as conn:
                    self._apply_page(conn, page, gen if resyncing else 0)
                    self.local.set_cursor(conn, cursor)
                done += len(page)
                report.pulled += sum(1 for r in page if r.kind == "P")
                report.deleted += sum(1 for r in page if r.kind == "T")
                if progress is not None:
                    progress(done, total)
            if len(page) < self.pull_page_size:
                break
        if resyncing:
            if cursor.version < 0:
                # An empty cloud: leave the "never pulled" position, or every later
                # sync would be a full resync (and cost a count) until a lead exists.
                cursor = Cursor(0, "")
            with self.local.transaction() as conn:
                report.deleted += self.local.drop_unseen(conn, gen)
                self.local.delete_meta(conn, "resync_gen_active")
                self.local.set_cursor(conn, cursor)
                # A finished full resync needs no tombstone from before its end.
                self.local.set_meta(conn, _PULL_STARTED, str(cursor.version))

    def _apply_page(self, conn: sa.Connection, page: Sequence[PulledRow], gen: int) -> None:
        self.local.apply_pulled(conn, page, gen)
        deleted = [r.handle for r in page if r.kind == "T"]
        if deleted:
            self.local.drop_logs_of_deleted(conn, deleted)
        handles = {r.handle for r in page}
        # Local work the cloud has not seen yet goes back on top of the cloud's row, in
        # the order it will be pushed: edits, then DMs.
        for edit in self.local.pending_edits_for(conn, handles):
            apply_edit_to_cache(self.local, conn, edit)
        for item in self.local.pending_logs_for(conn, handles):
            apply_dm_to_cache(self.local, conn, item)


def _isolating(
    batch: Sequence[T],
    push: Callable[[Sequence[T]], None],
    done: Callable[[Sequence[T]], None],
    refuse: Callable[[T, str], None],
) -> None:
    """Push a batch; when the cloud refuses its data, split it to find the refused rows.

    An unreachable cloud is not a refusal: it propagates and the queue stays as it is.
    """
    try:
        push(batch)
    except CloudUnavailable:
        raise
    except CloudError as error:
        if len(batch) == 1:
            refuse(batch[0], str(error))
            return
        middle = len(batch) // 2
        _isolating(batch[:middle], push, done, refuse)
        _isolating(batch[middle:], push, done, refuse)
        return
    done(batch)
