"""One sync cycle: read the header, push the journal, pull changes. See ARCHITECTURE.md,
"Sync protocol".

The invariants, and what keeps each of them:

- A DM reaches the cloud exactly once: each carries a client-made id that the cloud
  keeps unique (insert-if-absent), and it is marked synced locally only after the
  cloud committed it. A crash in between makes the next push a no-op for it.
- Nothing is missed: the cursor is the cloud's ``row_version``, handed out in
  commit order by the database. Each page and the cursor after it are written in
  one SQLite transaction, so a crash resumes exactly where it stopped.
- A pull never undoes local work: queued work is pushed first, and what is still
  queued (made during the sync, or set aside) is re-applied on top of every page.
- Local operations reach the cloud in the order they were made: DMs and edits are one
  journal, pushed in batches of segments (``journal_segments``) that keep each lead's
  order.
- The cache notices another cloud: the header carries the cloud's identity, and a
  different one (a reset, a replaced database) or a clock behind the cursor starts a
  full resync that keeps queued work. A purge of old tombstones that lands while a
  pull runs cannot hide a deletion: the version each pull starts from is kept, and
  the next sync resyncs fully if the purge horizon has passed it.
- Event times follow the cloud's clock: each header measures the offset, which the
  Ledger adds to the local clock; a DM stamped too far in the future is refused.
- A bad row never blocks the queue, and a table-wide refusal never sets rows aside:
  only a row refusal (``CloudRowRefused``) splits a batch in halves to find the rows
  to set aside; a missing right, table or column stops the sync with the queue intact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from dmledger.cloud import SCHEMA_VERSION
from dmledger.domain.records import ActorRow, CloudHeader, Cursor, Edit, OutgoingLog, PulledRow
from dmledger.domain.timeutil import Clock, utcnow
from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudRowRefused,
    CloudSchemaError,
    DmLedgerError,
)
from dmledger.local import (
    LocalStore,
    apply_to_cache,
    iso,
    keep_team_config,
    pending_team_edits,
    remove_team_edits,
)
from dmledger.local import meta_keys as keys
from dmledger.sync.gateway import CloudGateway
from dmledger.sync.lock import sync_lock

log = logging.getLogger(__name__)

# One push batch is one cloud transaction. PostgreSQL sends each table's part of it as
# one set-based statement (arrays), SQLite and Oracle as one executemany (array DML),
# so 10,000 DMs cost a handful of round trips; memory is a few MB per batch.
LOG_BATCH = 10_000
EDIT_BATCH = 10_000
# Large pages: fewer commits and round trips (a full resync writes its rows without
# indexes, so a page of 50,000 is about a second's write lock; incremental pulls are
# small). Memory is bounded by the page: the initial pull's peak RSS (``make bench``).
PULL_PAGE = 50_000
# With nothing to push, the first page comes in the header's round trip (one round trip
# for a sync with nothing to do). Kept small: the clock offset takes the middle of that
# round trip, so what it carries back must be quick to send.
FIRST_PAGE = 1_000


T = TypeVar("T")
R = TypeVar("R")

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
    resync_reason: str | None = None  # why a full resync ran (None: none, or the first pull)
    dropped: int = 0  # edits the cloud dropped: their lead had been deleted
    index_seconds: float = 0.0  # building the indexes a full resync left off, after its rows
    started_at: datetime | None = None
    finished_at: datetime | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return bool(self.pushed_logs or self.pushed_edits or self.pulled or self.deleted)


FUTURE_LIMIT = timedelta(minutes=5)  # a DM stamped later than cloud time + this is refused

RESET = "the team's cloud database was reset or replaced"
WENT_BACK = "the cloud database went back in time (restored from a backup?)"
PURGED = "this machine was away longer than deletions are kept"
FORCED = "a set-aside change was dropped, so the cloud's rows are read again"


def clock_offset(local: LocalStore, conn: sa.Connection) -> timedelta | None:
    """Cloud clock minus this machine's clock, as measured by the last sync (None before
    the first)."""
    value = local.get_meta(conn, keys.CLOCK_OFFSET)
    return timedelta(seconds=float(value)) if value else None


@dataclass(frozen=True)
class _Plan:
    header: CloudHeader
    cursor: Cursor
    resyncing: bool
    gen: int
    offset: timedelta
    first_page: list[PulledRow] | None = None  # read with the header: nothing to push


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
        # One journal of DMs and edits: a push batch holds up to the smaller size.
        self.batch = min(log_batch, edit_batch)
        self.pull_page_size = pull_page

    def sync_once(
        self, progress: Progress | None = None, *, wait: bool = False, build_indexes: bool = True
    ) -> SyncReport:
        """Header, push, pull. Raises SyncBusy if another process syncs this home,
        CloudUnavailable (queue intact) if the cloud drops out, and CloudPermissionDenied
        or CloudSchemaError (queue intact, nothing set aside) when the cloud refuses a
        whole table; records the outcome for ``status``. ``build_indexes=False`` leaves
        the indexes a full resync turned off to whoever builds them next
        (``LocalStore.finish_indexing``): the cache is complete, search scans till then."""
        with sync_lock(self.home, wait=wait):
            report = SyncReport(started_at=self.clock())
            try:
                plan = self._begin(report)
                pushed_team = self._push_team_edits(report)
                self._read_team_config(plan.header, force=pushed_team)
                self._push(report, plan.offset, plan.header, plan.gen if plan.resyncing else 0)
                if report.pushed_logs or report.pushed_edits:
                    # Made while the header was on its way: the page it brought may
                    # lack this push's rows, so the pull starts again after it.
                    plan = replace(plan, first_page=None)
                    self.cloud.settle()  # so this pull brings the push's own rows back
                self._pull(report, progress, plan)
            except DmLedgerError as error:
                self._record(last_error=str(error))
                raise
            report.finished_at = self.clock()
            self._record(last_error=None, last_sync_at=iso(report.finished_at))
            # The rows are in (cards answer); the indexes a full resync left off are
            # built now (each step a short transaction), or by the next sync or
            # builder if this process dies first.
            started = time.perf_counter()
            if build_indexes and self.local.finish_indexing():
                report.index_seconds = time.perf_counter() - started
            return report

    def share_team_edits(self) -> SyncReport:
        """Push this home's queued template and rule changes now and read the team's
        config back, and nothing else (``template add`` with the cloud up). Raises
        SyncBusy when a sync runs (it pushes them itself) and CloudUnavailable when the
        cloud does not answer (they stay queued)."""
        with sync_lock(self.home, wait=False):
            report = SyncReport(started_at=self.clock())
            self._push_team_edits(report)
            config = self.cloud.team_config()
            with self.local.transaction() as conn:
                keep_team_config(self.local, conn, config)
            report.finished_at = self.clock()
            return report

    def _record(self, *, last_error: str | None, last_sync_at: str | None = None) -> None:
        with self.local.transaction() as conn:
            self.local.set_meta(conn, keys.LAST_ERROR, last_error)
            self.local.set_meta(conn, keys.LAST_ATTEMPT_AT, iso(self.clock()))
            if last_sync_at is not None:
                self.local.set_meta(conn, keys.LAST_SYNC_AT, last_sync_at)

    # -- header --------------------------------------------------------------------

    def _begin(self, report: SyncReport) -> _Plan:
        """Read the header; measure the clock offset; decide whether to resync in full."""
        with self.local.reading() as conn:
            cursor = self.local.cursor(conn)
            resyncing = self.local.get_meta(conn, keys.RESYNC_GEN_ACTIVE) is not None
            forced = self.local.get_meta(conn, keys.FORCE_RESYNC) is not None
            gen = int(self.local.get_meta(conn, keys.RESYNC_GEN) or 0)
            last_start = self.local.get_meta(conn, keys.PULL_STARTED)
            known_id = self.local.get_meta(conn, keys.CLOUD_ID)
            queued = bool(self.local.pending_journal(conn, 1) or pending_team_edits(conn))
        initial = cursor.version < 0
        first_page: list[PulledRow] | None = None
        asked = self.clock()
        if initial or resyncing or forced or queued:
            header = self.cloud.header(with_count=initial and not resyncing)
        else:
            # Nothing to push first: the pull's first page rides with the header.
            header, first_page = self.cloud.header_and_page(cursor, self._first_page_size)
        answered = self.clock()
        if header.schema_version is not None and header.schema_version != SCHEMA_VERSION:
            raise CloudSchemaError(
                f"the cloud schema is version {header.schema_version}, this agent knows "
                f"{SCHEMA_VERSION}: nothing was sent and the queue is intact; run "
                "`dmledger cloud upgrade` or upgrade DM Ledger, then sync again"
            )
        offset = timedelta(0)
        if header.now is not None:
            offset = header.now - (asked + (answered - asked) / 2)
        # The last pull saw every tombstone after where it started only if none was
        # purged while it ran: compare the purge horizon with that start.
        seen_from = cursor.version if last_start is None else min(cursor.version, int(last_start))
        replaced = known_id is not None and header.cloud_id not in (None, known_id)
        # The clock never goes back: if it did, the cloud was reset or restored, and
        # a cursor past its clock would skip every new lead.
        went_back = cursor.version > header.version
        purged = seen_from < header.purged_through
        start = replaced or went_back or (not resyncing and (initial or forced or purged))
        with self.local.transaction() as conn:
            if header.now is not None:
                self.local.set_meta(conn, keys.CLOCK_OFFSET, f"{offset.total_seconds():.6f}")
                # DMs logged before any offset was known get it now.
                self.local.correct_raw_clock(conn, offset)
            if header.cloud_id is not None:
                self.local.set_meta(conn, keys.CLOUD_ID, header.cloud_id)
            if start:
                # Read everything and drop what the cloud no longer has at the end;
                # queued work is kept, and pushed to this cloud first.
                resyncing = True
                gen += 1
                cursor = Cursor()
                self.local.set_meta(conn, keys.RESYNC_GEN, str(gen))
                self.local.set_meta(conn, keys.RESYNC_GEN_ACTIVE, "1")
                self.local.delete_meta(conn, keys.FORCE_RESYNC)
                self.local.set_cursor(conn, cursor)
            self.local.replace_people(conn, header.operators, header.actors)
        if start and not initial:
            report.full_resync = True
            report.resync_reason = (
                RESET if replaced else WENT_BACK if went_back else PURGED if purged else FORCED
            )
            log.warning("full resync: %s", report.resync_reason)
        # A full resync reads from the start: the page after the old cursor is not used.
        return _Plan(header, cursor, resyncing, gen, offset, None if start else first_page)

    @property
    def _first_page_size(self) -> int:
        return min(FIRST_PAGE, self.pull_page_size)

    def _push_team_edits(self, report: SyncReport) -> bool:
        """This home's queued template and rule changes, before the journal (a DM made
        from a new template then finds it there). Returns whether any were sent.

        A cloud that refuses them (a role without the right, a value it will not hold)
        drops them with the reason, as an edit to a deleted lead is dropped: the
        journal behind them is not held up, and the next read of the team's config
        shows the cloud's again."""
        with self.local.reading() as conn:
            edits = pending_team_edits(conn)
        if not edits:
            return False
        try:
            self.cloud.push_team_edits(edits)
        except (CloudPermissionDenied, CloudRowRefused) as error:
            report.dropped += len(edits)
            report.errors.extend(f"team {e.op} {e.name}: not shared: {error}" for e in edits)
            log.warning("team changes dropped: %s", error)
        else:
            report.pushed_edits += len(edits)
        with self.local.transaction() as conn:
            remove_team_edits(conn, [e.seq for e in edits])
        return True

    def _read_team_config(self, header: CloudHeader, *, force: bool = False) -> None:
        """The team's rule and templates, read only when the header says they changed
        or this sync changed them (a sync with nothing to do stays at one round trip)."""
        with self.local.reading() as conn:
            known = self.local.get_meta(conn, keys.TEAM_VERSION)
        if not force and (header.team_version is None or header.team_version == known):
            return
        config = self.cloud.team_config()
        with self.local.transaction() as conn:
            keep_team_config(self.local, conn, config)

    # -- push ----------------------------------------------------------------------

    def _push(
        self,
        report: SyncReport,
        offset: timedelta,
        header: CloudHeader | None = None,
        resync_gen: int = 0,
    ) -> None:
        """Push the queue in batches. During a full resync (``resync_gen``), the leads a
        batch wrote count as seen by the resync: the cloud has them now, but the pull reads
        below the oldest open transaction and may not bring them back this time, and
        the resync's end deletes every cached lead it did not see."""
        # People the header just listed are in the cloud: no statement to ensure them.
        ensured_operators: set[str] = set(header.operators) if header else set()
        ensured_actors: set[str] = {a.username for a in header.actors} if header else set()
        while True:
            with self.local.reading() as conn:
                batch = self.local.pending_journal(conn, self.batch)
                senders = {i.actor for i in batch if isinstance(i, OutgoingLog)}
                actor_rows = {a: self.local.get_actor(conn, a) for a in senders}
            if not batch:
                return
            batch = self._refuse_future(report, batch, self.clock() + offset)

            def push(
                items: Sequence[OutgoingLog | Edit],
                actor_rows: dict[str, ActorRow | None] = actor_rows,
            ) -> list[Edit]:
                logs = [i for i in items if isinstance(i, OutgoingLog)]
                operators = sorted({i.operator for i in logs} - ensured_operators)
                actors = [
                    actor_rows.get(i.actor) or ActorRow(i.actor, i.operator, "active")
                    for i in logs
                    if i.actor not in ensured_actors
                ]
                # Operators named as actor owners must exist before the actors do.
                operators = sorted(
                    set(operators) | {a.owner_operator for a in actors if a.owner_operator}
                )
                dropped = self.cloud.push(items, operators, actors)
                ensured_operators.update(operators)
                ensured_actors.update(a.username for a in actors)
                return dropped

            def done(items: Sequence[OutgoingLog | Edit], dropped: list[Edit]) -> None:
                logs = [i.local_id for i in items if isinstance(i, OutgoingLog)]
                edits = [i.seq for i in items if isinstance(i, Edit)]
                with self.local.transaction() as conn:
                    self.local.mark_logs_synced(conn, logs)
                    self.local.remove_edits(conn, edits)
                    if resync_gen:
                        written = {i.target for i in items if i not in dropped}
                        self.local.mark_seen(conn, written, resync_gen)
                    for edit in dropped:
                        self.local.add_notice(conn, edit.target, _dropped(edit), self.clock())
                report.pushed_logs += len(logs)
                report.pushed_edits += len(edits) - len(dropped)
                report.dropped += len(dropped)
                report.errors.extend(f"{e.target}: {_dropped(e)}" for e in dropped)

            _isolating(batch, push, done, self._set_aside(report))

    def _set_aside(self, report: SyncReport) -> Callable[[OutgoingLog | Edit, str], None]:
        def refuse(item: OutgoingLog | Edit, error: str) -> None:
            with self.local.transaction() as conn:
                if isinstance(item, Edit):
                    self.local.set_edit_aside(conn, item.seq, error)
                    report.errors.append(f"{item.op} edit of {item.target}: {error}")
                else:
                    self.local.set_log_aside(conn, item.local_id, error)
                    report.errors.append(f"DM {item.client_log_id} to {item.target}: {error}")
            report.set_aside += 1

        return refuse

    def _refuse_future(
        self, report: SyncReport, batch: list[OutgoingLog | Edit], cloud_now: datetime
    ) -> list[OutgoingLog | Edit]:
        """Set aside the items stamped later than the cloud's clock allows; the rest."""
        limit = cloud_now + FUTURE_LIMIT
        refuse = self._set_aside(report)
        kept: list[OutgoingLog | Edit] = []
        for item in batch:
            # DMs carry event times to the cloud; an edit's time only orders the journal.
            at = item.sent_at if isinstance(item, OutgoingLog) else None
            if at is not None and at > limit:
                refuse(
                    item,
                    f"its time {at.isoformat(timespec='seconds')}Z is "
                    f"{_minutes(at - cloud_now)} ahead of the cloud's clock "
                    f"({cloud_now.isoformat(timespec='seconds')}Z): an event cannot be in "
                    "the future; check this machine's clock or the --at given",
                )
            else:
                kept.append(item)
        return kept

    # -- pull ----------------------------------------------------------------------

    def _pull(self, report: SyncReport, progress: Progress | None, plan: _Plan) -> None:
        cursor, resyncing, gen = plan.cursor, plan.resyncing, plan.gen
        with self.local.transaction() as conn:
            self.local.set_meta(conn, keys.PULL_STARTED, str(cursor.version))
            if resyncing:
                # Rows first: the trigram index is rebuilt once at the end (search
                # scans meanwhile); a resync resumed after a crash finds it still off.
                self.local.suspend_search_index(conn)
        done = 0
        total = plan.header.prospect_count
        for page in self._pages(cursor, plan.first_page):
            cursor = Cursor(page[-1].version, page[-1].handle)
            with self.local.transaction() as conn:
                self._apply_page(conn, page, gen if resyncing else 0)
                self.local.set_cursor(conn, cursor)
            done += len(page)
            report.pulled += sum(1 for r in page if r.kind == "P")
            report.deleted += sum(1 for r in page if r.kind == "T")
            if progress is not None:
                progress(done, total)
        if resyncing:
            if cursor.version < 0:
                # An empty cloud: leave the "never pulled" position, or every later
                # sync would be a full resync (and cost a count) until a lead exists.
                cursor = Cursor(0, "")
            with self.local.transaction() as conn:
                report.deleted += self.local.drop_unseen(conn, gen)
                self.local.delete_meta(conn, keys.RESYNC_GEN_ACTIVE)
                self.local.set_cursor(conn, cursor)
                # A finished full resync needs no tombstone from before its end.
                self.local.set_meta(conn, keys.PULL_STARTED, str(cursor.version))

    def _pages(
        self, cursor: Cursor, first: list[PulledRow] | None = None
    ) -> Iterator[list[PulledRow]]:
        """The pages after ``cursor`` (the first one already read with the header, if
        given), each non-empty. A full page means more may follow: the next is fetched
        in a thread while the caller writes this one (the cloud's driver and SQLite both
        let go of the GIL while they wait), so a large pull overlaps reading and
        writing. At most two pages are held at once."""
        size = self.pull_page_size
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull") as reader:
            if first is not None:
                page, limit = first, self._first_page_size
            else:
                page, limit = self.cloud.pull_page(cursor, size), size
            while page:
                last = page[-1]
                ahead = (
                    reader.submit(self.cloud.pull_page, Cursor(last.version, last.handle), size)
                    if len(page) >= limit
                    else None
                )
                yield page
                # A failed fetch raises here, after the page before it was written.
                page, limit = ([] if ahead is None else ahead.result()), size

    def _apply_page(self, conn: sa.Connection, page: Sequence[PulledRow], gen: int) -> None:
        self.local.apply_pulled(conn, page, gen)
        deleted = [r.handle for r in page if r.kind == "T"]
        if deleted:
            self.local.drop_logs_of_deleted(conn, deleted)
        # Local work the cloud has not seen yet goes back on top of the cloud's row, in
        # the order it was made (the order it will be pushed in).
        for item in self.local.pending_journal_for(conn, (r.handle for r in page)):
            apply_to_cache(self.local, conn, item)


def _dropped(edit: Edit) -> str:
    what = {"status": f"status change to {edit.status}", "notes": "notes", "append": "note"}
    made = f" made {edit.at.isoformat(timespec='seconds')}Z" if edit.at else ""
    return (
        f"your {what.get(edit.op, edit.op)}{made} was dropped: the lead had been deleted "
        "by a teammate before it reached the cloud"
    )


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.1f} hours"


def _isolating(
    batch: Sequence[T],
    push: Callable[[Sequence[T]], R],
    done: Callable[[Sequence[T], R], None],
    refuse: Callable[[T, str], None],
) -> None:
    """Push a batch; when the cloud refuses a row's data, split it to find the refused rows.

    Only a row refusal splits: an unreachable or busy cloud, a missing right, table or
    column propagate at once, and the queue stays as it is.
    """
    if not batch:
        return
    try:
        result = push(batch)
    except (CloudRowRefused, CloudPermissionDenied) as error:
        if not _about_items(error, batch):
            raise
        if len(batch) == 1:
            refuse(batch[0], str(error))
            return
        middle = len(batch) // 2
        _isolating(batch[:middle], push, done, refuse)
        _isolating(batch[middle:], push, done, refuse)
        return
    done(batch, result)


def _about_items(error: CloudError, batch: Sequence[object]) -> bool:
    """Is this refusal about some items of the batch rather than the whole table?

    A row refusal always is. So is a missing DELETE right met by a batch holding a
    deletion: the operator role may not delete DMs on purpose, so deleting a messaged
    lead is refused for that edit alone (set aside), while every other missing right
    stops the sync with the queue intact.
    """
    if isinstance(error, CloudRowRefused):
        return True
    return (
        isinstance(error, CloudPermissionDenied)
        and error.verb == "DELETE"
        and any(isinstance(i, Edit) and i.op == "delete" for i in batch)
    )
