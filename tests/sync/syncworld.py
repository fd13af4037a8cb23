"""A small world for sync tests: a team of agents (homes) around one real cloud.

Helpers read both sides with SQLAlchemy Core over the real tables, so a test can say
"this cache equals the cloud" or "the cloud holds each DM exactly once" in one line.
Nothing here mocks a database; fault injection is explicit (``FailingGateway``,
the TCP proxy in ``support/proxy.py``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dmledger.app.cloud_access import cloud_store_for
from dmledger.app.ledger import Ledger
from dmledger.cloud import tables as cloud_schema
from dmledger.cloud.store import CloudStore
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
from dmledger.domain.timeutil import Clock, utcnow
from dmledger.errors import CloudUnavailable
from dmledger.local import schema as local_schema
from dmledger.local.effects import apply_dm_to_cache
from dmledger.local.store import from_iso
from dmledger.sync.engine import SyncEngine
from dmledger.sync.gateway import CloudGateway, StoreGateway

T0 = datetime(2026, 3, 2, 9, 0, 0)

# One comparable lead: what a cache must hold exactly as the cloud does.
LeadRow = tuple[Any, ...]  # handle, status, owner, notes, times, version, follow-up figures


def proxied(url: str, port: int) -> str:
    """The same cloud URL, reached through a local proxy port."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@dataclass
class Team:
    """Agents (each its own home and Ledger) around one cloud, created on demand."""

    cloud_url: str
    root: Path
    ledgers: list[Ledger] = field(default_factory=list)
    _cloud: CloudStore | None = None
    # For property tests that reuse one team across examples.
    ledgers_by_name: dict[str, Ledger] = field(default_factory=dict)
    example: int = 0

    @property
    def cloud(self) -> CloudStore:
        """A direct connection to the cloud (never through a proxy), schema created."""
        if self._cloud is None:
            self._cloud = cloud_store_for(self.cloud_url)
            self._cloud.init_schema()
        return self._cloud

    def home(self, name: str, *, cloud_url: str | None = None) -> Path:
        """Initialise the home of operator ``name`` (actor ``name.dm``); not opened."""
        _ = self.cloud  # the schema must exist before anyone syncs
        path = self.root / name.lower()
        ledger, _ = Ledger.init_home(
            path, name, cloud_url=cloud_url or self.cloud_url, actor=f"{name.lower()}.dm"
        )
        ledger.close()
        return path

    def agent(self, name: str, *, cloud_url: str | None = None, clock: Clock = utcnow) -> Ledger:
        """A new teammate: a home, its Ledger (closed at the end of the test)."""
        ledger = Ledger.open(self.home(name, cloud_url=cloud_url), clock=clock)
        self.ledgers.append(ledger)
        return ledger

    def open(self, home: Path, *, clock: Clock = utcnow) -> Ledger:
        ledger = Ledger.open(home, clock=clock)
        self.ledgers.append(ledger)
        return ledger

    def close(self) -> None:
        for ledger in self.ledgers:
            ledger.close()
        if self._cloud is not None:
            self._cloud.dispose()


def engine_for(
    ledger: Ledger,
    gateway: CloudGateway | None = None,
    **batches: int,
) -> SyncEngine:
    """A SyncEngine for a ledger with chosen batch sizes (log_batch, edit_batch, pull_page)."""
    return SyncEngine(
        ledger.home,
        ledger.local,
        gateway or StoreGateway(ledger.cloud),
        clock=ledger.clock,
        **batches,
    )


# -- reading both sides ------------------------------------------------------------------


def _lead_rows(conn: sa.Connection, p: sa.Table) -> list[Any]:
    """The compared columns of a prospects table (cloud or cache, same names), by handle."""
    columns = ("target_username", "status", "owner_actor", "notes")
    columns += ("first_contacted", "last_updated", "row_version")
    columns += ("last_dm_at", "dm_count", "last_reply_at", "follow_up_at", "last_message")
    statement = sa.select(*(p.c[name] for name in columns)).order_by(p.c.target_username)
    return list(conn.execute(statement).all())


def cloud_leads(cloud: CloudStore) -> list[LeadRow]:
    with cloud.reading() as conn:
        rows = _lead_rows(conn, cloud_schema.prospects)
    return [
        (r[0], r[1] or "new", r[2], r[3], r[4], r[5], r[6], r[7], r[8] or 0, r[9], r[10], r[11])
        for r in rows
    ]


_CACHE_TIMES = {4, 5, 7, 9, 10}  # the cache keeps times as ISO text


def cache_leads(ledger: Ledger) -> list[LeadRow]:
    with ledger.local.reading() as conn:
        rows = _lead_rows(conn, local_schema.prospects)
    return [tuple(from_iso(v) if i in _CACHE_TIMES else v for i, v in enumerate(r)) for r in rows]


def checksum(rows: Sequence[LeadRow]) -> str:
    """A digest over sorted rows: equal digests, equal tables."""
    text = "\n".join(repr(row) for row in sorted(rows))
    return hashlib.sha256(text.encode()).hexdigest()


def cloud_log_ids(cloud: CloudStore) -> Counter[str]:
    """How many times each client_log_id is in the cloud."""
    logs = cloud_schema.outreach_logs
    with cloud.reading() as conn:
        return Counter(str(r[0]) for r in conn.execute(sa.select(logs.c.client_log_id)))


def cloud_logs(cloud: CloudStore, handle: str) -> list[dict[str, Any]]:
    return cloud.logs_for(handle, limit=1000)


def local_log_ids(ledger: Ledger, *, synced: bool | None = None) -> set[str]:
    logs = local_schema.outreach_logs
    query = sa.select(logs.c.client_log_id)
    if synced is not None:
        query = query.where(logs.c.synced_to_cloud == int(synced))
    with ledger.local.reading() as conn:
        return {str(r[0]) for r in conn.execute(query)}


def cursor_of(ledger: Ledger) -> Cursor:
    with ledger.local.reading() as conn:
        return ledger.local.cursor(conn)


def has_pending_work(ledger: Ledger) -> set[str]:
    """Leads this machine still has queued DMs or edits for."""
    logs, outbox = local_schema.outreach_logs, local_schema.outbox
    with ledger.local.reading() as conn:
        handles = {
            str(r[0])
            for r in conn.execute(
                sa.select(logs.c.target_username).where(logs.c.synced_to_cloud == 0)
            )
        }
        handles |= {str(r[0]) for r in conn.execute(sa.select(outbox.c.target_username))}
    return handles


def assert_cursor_not_ahead(ledger: Ledger, cloud: CloudStore) -> None:
    """Every cloud change at or before the local cursor is in the cache, exactly.

    Call with the cloud quiet. Leads with queued local work are skipped: the cache
    shows that work on top of the cloud's row by design.
    """
    cursor = cursor_of(ledger)
    position = (cursor.version, cursor.handle)
    pending = has_pending_work(ledger)
    cached = {row[0]: row for row in cache_leads(ledger)}
    for row in cloud_leads(cloud):
        if row[0] in pending or row[6] is None or (row[6], row[0]) > position:
            continue
        assert cached.get(row[0]) == row, f"{row[0]} is behind the cursor {position}"
    tombstones = cloud_schema.prospect_tombstones
    with cloud.reading() as conn:
        gone = conn.execute(sa.select(tombstones.c.target_username, tombstones.c.row_version)).all()
    for handle, version in gone:
        if handle not in pending and (version, handle) <= position:
            assert handle not in cached, f"{handle} was deleted at {version} but is cached"


def sessions_waiting_on_locks(cloud: CloudStore) -> int:
    """PostgreSQL sessions of this database waiting for a lock right now."""
    with cloud.reading() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar_one()
        )


def assert_cache_equals_cloud(ledger: Ledger, cloud: CloudStore) -> None:
    assert cache_leads(ledger) == cloud_leads(cloud)


# -- queueing work fast ----------------------------------------------------------------


def queue_dms(
    ledger: Ledger,
    count: int,
    targets: Sequence[str],
    *,
    start: datetime = T0,
    with_cache: bool = True,
) -> list[str]:
    """Queue ``count`` DMs from the ledger's own actor, round-robin over ``targets``,
    in one local transaction (what many ``log`` calls do, minus the per-call commit).

    ``with_cache`` applies each DM to the cached lead as ``Ledger.log_dm`` does; bulk
    tests that only count DMs skip it.
    """
    actor = ledger.settings.actor
    assert actor is not None
    ids = []
    with ledger.local.transaction() as conn:
        ledger.local.remember_actor(conn, ActorRow(actor, ledger.settings.operator, "active"))
        for i in range(count):
            item = OutgoingLog(
                str(uuid.uuid4()),
                targets[i % len(targets)],
                actor,
                ledger.settings.operator,
                f"hello #{i}",
                start + timedelta(seconds=i),
            )
            ledger.local.insert_log(conn, item)
            if with_cache:
                apply_dm_to_cache(ledger.local, conn, item)
            ids.append(item.client_log_id)
    return ids


# -- fault injection at the gateway ----------------------------------------------------


class FailingGateway:
    """A CloudGateway that passes calls to ``inner`` and fails on purpose.

    ``fail_at`` maps a call number (1-based, over all calls) to a moment: "before"
    raises CloudUnavailable without calling the cloud; "after" lets the call commit
    and then raises, as when the reply of a committed transaction is lost.
    """

    def __init__(
        self,
        inner: CloudGateway,
        fail_at: dict[int, str] | None = None,
        *,
        on_call: Callable[[str, int], None] | None = None,
    ) -> None:
        self.inner = inner
        self.fail_at = dict(fail_at or {})
        self.on_call = on_call
        self.calls: list[str] = []
        self.pulled: list[PulledRow] = []

    def _step(self, name: str) -> str | None:
        self.calls.append(name)
        number = len(self.calls)
        if self.on_call is not None:
            self.on_call(name, number)
        moment = self.fail_at.get(number)
        if moment == "before":
            raise CloudUnavailable(f"injected: cloud gone before call {number} ({name})")
        return moment

    def _after(self, moment: str | None, name: str) -> None:
        if moment == "after":
            raise CloudUnavailable(f"injected: reply lost after call {len(self.calls)} ({name})")

    def header(self, *, with_count: bool) -> CloudHeader:
        moment = self._step("header")
        result = self.inner.header(with_count=with_count)
        self._after(moment, "header")
        return result

    def header_and_page(self, after: Cursor, limit: int) -> tuple[CloudHeader, list[PulledRow]]:
        # Two steps, as the engine used to send them: a failure can be injected between
        # the header and its page (the connection lost with only the header's reply).
        return self.header(with_count=False), self.pull_page(after, limit)

    def pull_page(self, after: Cursor, limit: int) -> list[PulledRow]:
        moment = self._step("pull_page")
        page = self.inner.pull_page(after, limit)
        self._after(moment, "pull_page")
        self.pulled.extend(page)
        return page

    def push(
        self,
        items: Sequence[OutgoingLog | Edit],
        operators: Sequence[str],
        actors: Sequence[ActorRow],
    ) -> list[Edit]:
        moment = self._step("push")
        dropped = self.inner.push(items, operators, actors)
        self._after(moment, "push")
        return dropped

    def team_config(self) -> TeamConfig:
        moment = self._step("team_config")
        config = self.inner.team_config()
        self._after(moment, "team_config")
        return config

    def push_team_edits(self, edits: Sequence[TeamEdit]) -> None:
        moment = self._step("push_team_edits")
        self.inner.push_team_edits(edits)
        self._after(moment, "push_team_edits")

    def settle(self) -> bool:  # a wait, not a call that can fail halfway: not counted
        return self.inner.settle()
