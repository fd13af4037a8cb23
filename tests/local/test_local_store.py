"""``local_data.db``: WAL, busy timeout, search, keyset pages, the queue and set-aside rows."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dmledger.domain.records import Cursor, OutgoingLog, Prospect, PulledRow
from dmledger.errors import NotFound
from dmledger.local import schema
from dmledger.local.store import DB_NAME, LocalStore, ProspectFilter

T0 = datetime(2026, 3, 1, 9, 0, 0)


@pytest.fixture
def store(home: Path) -> Iterator[LocalStore]:
    local = LocalStore.in_home(home)
    yield local
    local.dispose()


def add(store: LocalStore, handle: str, status: str = "new", notes: str | None = None) -> None:
    with store.transaction() as conn:
        store.put_prospect(conn, Prospect(handle, status, notes=notes))


def search(store: LocalStore, text: str, **filters: str) -> list[str]:
    with store.reading() as conn:
        rows = store.list_prospects(conn, ProspectFilter(search=text, **filters), limit=100)
    return [p.handle for p in rows]


def queue_dm(store: LocalStore, target: str, *, client_log_id: str | None = None) -> int | None:
    item = OutgoingLog(client_log_id or str(uuid.uuid4()), target, "sarah.sells", "Sarah", "hi", T0)
    with store.transaction() as conn:
        return store.insert_log(conn, item)


def test_the_local_database_is_created_in_the_home_with_the_seeds_tables(home: Path) -> None:
    store = LocalStore.in_home(home)
    store.dispose()
    with sqlite3.connect(home / DB_NAME) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        log_columns = {r[1] for r in db.execute("PRAGMA table_info(outreach_logs)")}
        prospect_columns = {r[1] for r in db.execute("PRAGMA table_info(prospects)")}
    db.close()
    assert {"prospects", "outreach_logs", "meta", "outbox"} <= tables
    assert {
        "id",
        "target_username",
        "actor_username",
        "operator_name",
        "message_snippet",
        "timestamp",
        "synced_to_cloud",
        "client_log_id",
        "error",
    } <= log_columns
    assert {"target_username", "status", "owner_actor", "notes", "last_updated"} <= (
        prospect_columns
    )


def test_opening_twice_is_harmless(home: Path) -> None:
    LocalStore.in_home(home).dispose()
    again = LocalStore.in_home(home)
    with again.reading() as conn:
        assert again.get_meta(conn, "local_schema_version") == str(schema.LOCAL_SCHEMA_VERSION)
    again.dispose()


def test_wal_mode_and_a_busy_timeout_are_on(store: LocalStore) -> None:
    with store.reading() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    with store.transaction() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_reader_is_not_blocked_by_an_open_write_transaction(store: LocalStore) -> None:
    add(store, "foo.bar")
    with store.transaction() as conn:
        store.put_prospect(conn, Prospect("foo.bar", "warm"))
        with store.reading() as reader:
            seen = store.get_prospect(reader, "foo.bar")
    assert seen is not None
    assert seen.status == "new"  # WAL: the reader sees the last committed state


def test_a_failed_unit_of_work_leaves_nothing_behind(store: LocalStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.put_prospect(conn, Prospect("foo.bar", "new"))
        store.enqueue_edit(conn, "add", "foo.bar", status="new")
        raise RuntimeError("crash halfway")
    with store.reading() as conn:
        assert store.get_prospect(conn, "foo.bar") is None
        assert store.queue_counts(conn).pending_changes == 0


# -- search ----------------------------------------------------------------------------


@pytest.fixture
def leads(store: LocalStore) -> LocalStore:
    add(store, "glow.skin", notes="Loves PILATES, asked for prices")
    add(store, "fit_coach", "warm")
    add(store, "ficoach", notes="no underscore here")
    add(store, "a_b", "hot")
    add(store, "axb")
    add(store, "percent", notes="100% sure")
    add(store, "studio.yoga", "warm", notes="Yoga studio in Lisbon")
    return store


def test_a_search_of_three_or_more_characters_finds_substrings_of_handles_and_notes(
    leads: LocalStore,
) -> None:
    assert search(leads, "coach") == ["ficoach", "fit_coach"]
    assert search(leads, "pilates") == ["glow.skin"]
    assert search(leads, "Lisbon") == ["studio.yoga"]
    assert search(leads, "oga") == ["studio.yoga"]
    assert search(leads, "no such thing") == []
    assert search(leads, 'quote"inside') == []


def test_a_search_shorter_than_three_characters_matches_literally(leads: LocalStore) -> None:
    # "_" and "%" are LIKE wildcards: they must match only themselves.
    assert search(leads, "_b") == ["a_b"]
    assert search(leads, "_") == ["a_b", "fit_coach"]
    assert search(leads, "%") == ["percent"]
    assert search(leads, "yo") == ["studio.yoga"]
    assert search(leads, "PI") == ["glow.skin"]


def test_search_combines_with_other_filters(leads: LocalStore) -> None:
    assert search(leads, "coach", status="warm") == ["fit_coach"]
    assert search(leads, "o", status="warm") == ["fit_coach", "studio.yoga"]


def test_the_search_index_follows_edits_and_deletions(leads: LocalStore) -> None:
    with leads.transaction() as conn:
        leads.put_prospect(conn, Prospect("glow.skin", "new", notes="Prefers reformer classes"))
        leads.delete_prospect(conn, "studio.yoga")
    assert search(leads, "pilates") == []
    assert search(leads, "reformer") == ["glow.skin"]
    assert search(leads, "lisbon") == []
    assert search(leads, "yoga") == []


def test_search_after_a_pull_finds_pulled_rows(store: LocalStore) -> None:
    with store.transaction() as conn:
        store.apply_pulled(
            conn,
            [PulledRow("P", "pulled.lead", 5, status="warm", notes="from the cloud")],
            gen=0,
        )
    assert search(store, "cloud") == ["pulled.lead"]
    with store.transaction() as conn:
        store.apply_pulled(conn, [PulledRow("T", "pulled.lead", 6)], gen=0)
    assert search(store, "cloud") == []


def test_an_incremental_pull_writes_only_what_changed(store: LocalStore) -> None:
    # SQLite rewrites an index, and the trigram index's trigger fires, for each column
    # an UPDATE sets: a pulled status change must set the status (and the version),
    # not every column. Counted as rows written, triggers included (total_changes).
    leads = [PulledRow("P", f"lead.{i}", 5, status="new", notes=f"note {i}") for i in range(20)]
    with store.transaction() as conn:
        store.apply_pulled(conn, leads, gen=0)

    def written(page: list[PulledRow]) -> int:
        with store.transaction() as conn:
            raw = conn.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            before = raw.total_changes
            store.apply_pulled(conn, page, gen=0)
            return raw.total_changes - before

    assert written(leads) == 0, "a page already in the cache writes nothing"
    warmer = [lead._replace(version=6, status="warm") for lead in leads[:10]]
    assert written(warmer) == 10, "one row each, no trigram index rewrite"
    assert search(store, "note 1") == ["lead.1", *(f"lead.{i}" for i in range(10, 20))]
    renoted = [warmer[3]._replace(version=7, notes="moved to porto")]
    assert written(renoted) > 1, "the row, then the trigram index's own tables"
    assert search(store, "porto") == ["lead.3"] and search(store, "note 3") == []
    with store.reading() as conn:
        statuses = {p.handle: p.status for p in store.list_prospects(conn, ProspectFilter())}
        rows = conn.exec_driver_sql("SELECT target_username, row_version FROM prospects")
        versions = {str(handle): version for handle, version in rows}
    assert statuses == {lead.handle: "warm" if i < 10 else "new" for i, lead in enumerate(leads)}
    assert versions["lead.3"] == 7 and versions["lead.0"] == 6 and versions["lead.19"] == 5


# -- keyset list -------------------------------------------------------------------------


def test_keyset_pages_cover_every_lead_once_in_handle_order(store: LocalStore) -> None:
    handles = [f"lead.{i:03d}" for i in range(37)]
    with store.transaction() as conn:
        store.insert_new_prospects(
            conn,
            [
                {"target_username": h, "status": "warm" if i % 3 == 0 else "new"}
                for i, h in enumerate(reversed(handles))
            ],
        )
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        with store.reading() as conn:
            page = store.list_prospects(conn, ProspectFilter(), after=after, limit=10)
        if not page:
            break
        pages.append([p.handle for p in page])
        after = page[-1].handle
    assert [len(p) for p in pages] == [10, 10, 10, 7]
    assert [h for page in pages for h in page] == handles
    with store.reading() as conn:
        warm = store.list_prospects(conn, ProspectFilter(status="warm"), limit=100)
        assert store.count_prospects(conn, ProspectFilter(status="warm")) == len(warm)
        assert store.count_prospects(conn, ProspectFilter()) == 37


def test_leads_filter_by_owner_and_first_contact_dates(store: LocalStore) -> None:
    with store.transaction() as conn:
        for handle, actor, operator, first in (
            ("a.lead", "sarah.sells", "Sarah", T0),
            ("b.lead", "marcus.closes", "Marcus", T0 + timedelta(days=2)),
        ):
            lead = Prospect(
                handle,
                "contacted",
                owner_actor=actor,
                owner_operator=operator,
                first_contacted=first,
            )
            store.put_prospect(conn, lead)
    with store.reading() as conn:

        def listed(where: ProspectFilter) -> list[str]:
            return [p.handle for p in store.list_prospects(conn, where)]

        assert listed(ProspectFilter(owner_actor="sarah.sells")) == ["a.lead"]
        assert listed(ProspectFilter(owner_operator="Marcus")) == ["b.lead"]
        assert listed(ProspectFilter(contacted_from=T0 + timedelta(days=1))) == ["b.lead"]
        assert listed(ProspectFilter(contacted_to=T0 + timedelta(days=1))) == ["a.lead"]


# -- the queue ---------------------------------------------------------------------------


def test_a_log_is_queued_once_per_client_log_id(store: LocalStore) -> None:
    first = queue_dm(store, "foo.bar", client_log_id="same-id")
    assert first is not None
    assert queue_dm(store, "foo.bar", client_log_id="same-id") is None
    with store.reading() as conn:
        assert [p.client_log_id for p in store.pending_logs(conn, 10)] == ["same-id"]
        assert store.queue_counts(conn).pending_logs == 1


def test_pending_logs_come_oldest_first_and_synced_ones_leave_the_queue(
    store: LocalStore,
) -> None:
    ids = [queue_dm(store, f"lead.{i}") for i in range(3)]
    with store.transaction() as conn:
        store.mark_logs_synced(conn, [ids[0]])
    with store.reading() as conn:
        pending = store.pending_logs(conn, 10)
        assert [p.local_id for p in pending] == ids[1:]
        assert store.queue_counts(conn).pending_logs == 2


def test_set_aside_rows_are_listed_counted_retried_and_dropped(store: LocalStore) -> None:
    log_ids = [queue_dm(store, "bad.lead"), queue_dm(store, "good.lead")]
    with store.transaction() as conn:
        store.enqueue_edit(conn, "status", "bad.lead", status="warm")
        store.enqueue_edit(conn, "notes", "good.lead", notes="fine")
        edits = store.pending_edits(conn, 10)
        store.set_log_aside(conn, log_ids[0], "value too large")
        store.set_edit_aside(conn, edits[0].seq, "permission denied")
    with store.reading() as conn:
        counts = store.queue_counts(conn)
        aside = store.set_aside(conn)
        assert [p.target for p in store.pending_logs(conn, 10)] == ["good.lead"]
        assert [e.target for e in store.pending_edits(conn, 10)] == ["good.lead"]
    assert (counts.pending_logs, counts.failed_logs) == (1, 1)
    assert (counts.pending_changes, counts.failed_changes) == (1, 1)
    assert [(a.kind, a.target, a.error) for a in aside] == [
        ("log", "bad.lead", "value too large"),
        ("edit", "bad.lead", "permission denied"),
    ]

    with store.transaction() as conn:
        assert store.retry_set_aside(conn) == 2
    with store.reading() as conn:
        counts = store.queue_counts(conn)
        assert store.set_aside(conn) == []
    assert (counts.pending_logs, counts.failed_logs, counts.pending_changes) == (2, 0, 2)

    with store.transaction() as conn:
        store.set_log_aside(conn, log_ids[0], "value too large")
        dropped = store.drop_set_aside(conn, "log", log_ids[0])
    assert (dropped.kind, dropped.target) == ("log", "bad.lead")
    with store.reading() as conn:
        counts = store.queue_counts(conn)
        assert store.log_by_client_id(conn, "x") is None
    assert (counts.pending_logs, counts.failed_logs) == (1, 0)


def test_only_a_set_aside_item_can_be_dropped(store: LocalStore) -> None:
    log_id = queue_dm(store, "foo.bar")
    assert log_id is not None
    with (
        pytest.raises(NotFound, match=f"no set-aside log with id {log_id}"),
        store.transaction() as conn,
    ):
        store.drop_set_aside(conn, "log", log_id)
    with store.reading() as conn:
        assert store.queue_counts(conn).pending_logs == 1


def test_deleting_a_lead_removes_its_notes_dms_and_queued_edits(store: LocalStore) -> None:
    add(store, "foo.bar", notes="secret")
    queue_dm(store, "foo.bar")
    queue_dm(store, "other.lead")
    with store.transaction() as conn:
        store.enqueue_edit(conn, "notes", "foo.bar", notes="secret 2")
        store.delete_prospect(conn, "foo.bar")
    with store.reading() as conn:
        assert store.get_prospect(conn, "foo.bar") is None
        assert store.logs_for(conn, "foo.bar") == []
        assert store.pending_edits_for(conn, ["foo.bar"]) == []
        assert len(store.logs_for(conn, "other.lead")) == 1


def test_the_pull_cursor_is_kept_in_meta(store: LocalStore) -> None:
    with store.reading() as conn:
        assert store.cursor(conn) == Cursor()
    with store.transaction() as conn:
        store.set_cursor(conn, Cursor(42, "foo.bar"))
    with store.reading() as conn:
        assert store.cursor(conn) == Cursor(42, "foo.bar")
