"""Every statement CloudStore can issue, run against SQLite and the real PostgreSQL.

Each test runs twice through the ``cloud_url`` fixture: once on a fresh SQLite file,
once in a fresh schema of the session's PostgreSQL database. Nothing is mocked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dmledger.app.cloud_access import cloud_store_for
from dmledger.cloud import tables as schema
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import outreach_logs, prospect_tombstones, prospects
from dmledger.domain.records import ActorRow, Cursor, Edit, OutgoingLog, PulledRow
from dmledger.domain.text import TRUNCATION_MARKER
from dmledger.domain.timeutil import utcnow
from dmledger.errors import CloudSchemaError, NotFound

T0 = datetime(2026, 3, 1, 9, 0, 0)
TEAM = [ActorRow("sarah.sells", "Sarah", "active"), ActorRow("marcus.closes", "Marcus", "active")]


@pytest.fixture
def store(cloud_url: str) -> Iterator[CloudStore]:
    """A cloud with the current schema and two operators with one actor each."""
    cloud = cloud_store_for(cloud_url)
    assert cloud.init_schema() is True
    with cloud.transaction() as conn:
        cloud.ensure_people(conn, ["Sarah", "Marcus"], TEAM)
    yield cloud
    cloud.dispose()


def dm(
    target: str,
    *,
    actor: str = "sarah.sells",
    at: datetime = T0,
    message: str = "hi 👋",
    client_log_id: str | None = None,
) -> OutgoingLog:
    operator = "Sarah" if actor == "sarah.sells" else "Marcus"
    return OutgoingLog(client_log_id or str(uuid.uuid4()), target, actor, operator, message, at)


def push(store: CloudStore, *logs: OutgoingLog) -> None:
    with store.transaction() as conn:
        store.push_logs(conn, logs)


def edit(store: CloudStore, *edits: Edit) -> None:
    with store.transaction() as conn:
        store.push_edits(conn, edits)


def prospect(store: CloudStore, handle: str) -> dict[str, Any] | None:
    with store.reading() as conn:
        row = conn.execute(sa.select(prospects).where(prospects.c.target_username == handle))
        found = row.first()
    return None if found is None else dict(found._mapping)


def count(store: CloudStore, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with store.reading() as conn:
        statement = sa.select(sa.func.count()).select_from(table).where(*where)
        return int(conn.execute(statement).scalar_one())


def pull_all(
    store: CloudStore, *, page: int = 1000, after: Cursor | None = None
) -> list[PulledRow]:
    cursor = after or Cursor()
    rows: list[PulledRow] = []
    # PostgreSQL reads below the oldest open transaction of the cluster (other tests').
    assert store.settle(timeout=60)
    while True:
        with store.reading() as conn:
            batch = store.pull_page(conn, cursor, page)
        rows += batch
        if len(batch) < page:
            return rows
        cursor = Cursor(batch[-1].version, batch[-1].handle)


# -- schema ----------------------------------------------------------------------------


def test_init_schema_is_idempotent(store: CloudStore) -> None:
    assert store.init_schema() is False
    assert store.schema_version() == schema.SCHEMA_VERSION
    store.require_schema()
    names = {t.name for t in (*schema.SEED_TABLES, *schema.ADDED_TABLES)}
    assert names <= store.existing_tables()


def test_an_empty_cloud_has_no_schema_and_is_refused_by_require_schema(cloud_url: str) -> None:
    cloud = cloud_store_for(cloud_url)
    try:
        assert cloud.schema_version() is None
        with pytest.raises(CloudSchemaError, match="cloud init"):
            cloud.require_schema()
        with pytest.raises(CloudSchemaError, match="cloud init"):
            cloud.upgrade()
    finally:
        cloud.dispose()


def test_a_newer_schema_version_is_refused_not_overwritten(store: CloudStore) -> None:
    with store.transaction() as conn:
        store.set_info(conn, "schema_version", str(schema.SCHEMA_VERSION + 1))
    with pytest.raises(CloudSchemaError, match="newer than this agent knows"):
        store.init_schema()
    with pytest.raises(CloudSchemaError, match="cloud upgrade"):
        store.require_schema()


def test_current_schema_names_the_postgresql_schema_and_is_none_on_sqlite(
    store: CloudStore, cloud_url: str
) -> None:
    if store.dialect == "sqlite":
        assert store.current_schema() is None
    else:
        schema_name = store.current_schema()
        assert schema_name is not None
        assert f"search_path%3D{schema_name}" in cloud_url


def test_info_values_are_set_and_replaced(store: CloudStore) -> None:
    assert store.info_value("demo_data") is None
    with store.transaction() as conn:
        store.set_info(conn, "demo_data", "true")
        store.set_info(conn, "demo_data", "false")
    assert store.info_value("demo_data") == "false"


# -- people ----------------------------------------------------------------------------


def test_operators_are_added_once_and_listed_in_order(store: CloudStore) -> None:
    assert store.add_operator("Priya") is True
    assert store.add_operator("Priya") is False
    assert store.list_operators() == ["Marcus", "Priya", "Sarah"]


def test_actors_are_added_once_and_need_a_registered_operator(store: CloudStore) -> None:
    assert store.add_actor("priya.studio", "Sarah") is True
    assert store.add_actor("priya.studio", "Sarah") is False
    with pytest.raises(NotFound, match="operator 'Nobody' is not registered"):
        store.add_actor("ghost.account", "Nobody")
    assert store.list_actors() == [
        ActorRow("marcus.closes", "Marcus", "active"),
        ActorRow("priya.studio", "Sarah", "active"),
        ActorRow("sarah.sells", "Sarah", "active"),
    ]


def test_an_actors_status_is_set_and_an_unknown_actor_is_refused(store: CloudStore) -> None:
    store.set_actor_status("marcus.closes", "restricted")
    statuses = {a.username: a.status for a in store.list_actors()}
    assert statuses == {"marcus.closes": "restricted", "sarah.sells": "active"}
    with pytest.raises(NotFound, match=r"'nobody\.here'"):
        store.set_actor_status("nobody.here", "banned")


def test_ensure_people_is_an_insert_ignore(store: CloudStore) -> None:
    with store.transaction() as conn:
        store.ensure_people(conn, ["Sarah", "Sarah", "Priya"], [*TEAM, TEAM[0]])
    assert store.list_operators() == ["Marcus", "Priya", "Sarah"]
    assert len(store.list_actors()) == 2


# -- push: DMs -------------------------------------------------------------------------


def test_pushing_the_same_log_twice_stores_one_row(store: CloudStore) -> None:
    first = dm("foo.bar", client_log_id="log-1")
    push(store, first)
    push(store, first)
    push(store, first, dm("foo.bar", client_log_id="log-2"))
    assert count(store, outreach_logs) == 2
    assert count(store, outreach_logs, outreach_logs.c.client_log_id == "log-1") == 1


def test_a_first_dm_makes_the_lead_contacted_and_owned(store: CloudStore) -> None:
    push(store, dm("foo.bar", at=T0))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert row["status"] == "contacted"
    assert row["owner_actor"] == "sarah.sells"
    assert row["first_contacted"] == T0
    logged = store.logs_for("foo.bar")
    assert [(r["actor_username"], r["operator_name"], r["message_text"]) for r in logged] == [
        ("sarah.sells", "Sarah", "hi 👋")
    ]


def test_a_dm_to_a_new_lead_added_earlier_makes_it_contacted(store: CloudStore) -> None:
    edit(store, Edit(1, "add", "foo.bar", status="new"))
    push(store, dm("foo.bar"))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert (row["status"], row["owner_actor"]) == ("contacted", "sarah.sells")


def test_the_earliest_first_contact_owns_the_lead(store: CloudStore) -> None:
    push(store, dm("foo.bar", actor="sarah.sells", at=T0))
    push(store, dm("foo.bar", actor="marcus.closes", at=T0 + timedelta(hours=1)))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert (row["owner_actor"], row["first_contacted"]) == ("sarah.sells", T0)
    # Marcus had messaged earlier while offline: his DM arrives later but wins.
    earlier = T0 - timedelta(hours=2)
    push(store, dm("foo.bar", actor="marcus.closes", at=earlier))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert (row["owner_actor"], row["first_contacted"]) == ("marcus.closes", earlier)
    assert count(store, outreach_logs, outreach_logs.c.target_username == "foo.bar") == 3


def test_within_one_batch_the_earliest_dm_owns_the_lead(store: CloudStore) -> None:
    push(
        store,
        dm("foo.bar", actor="sarah.sells", at=T0 + timedelta(minutes=5)),
        dm("foo.bar", actor="marcus.closes", at=T0),
    )
    row = prospect(store, "foo.bar")
    assert row is not None
    assert (row["owner_actor"], row["first_contacted"]) == ("marcus.closes", T0)


def test_a_tie_on_first_contact_goes_to_the_alphabetically_first_actor(
    store: CloudStore,
) -> None:
    push(store, dm("foo.bar", actor="sarah.sells", at=T0))
    push(store, dm("foo.bar", actor="marcus.closes", at=T0))
    push(store, dm("foo.bar", actor="sarah.sells", at=T0))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert row["owner_actor"] == "marcus.closes"


def test_a_dm_never_moves_a_booked_lead_backwards(store: CloudStore) -> None:
    push(store, dm("foo.bar", at=T0))
    edit(store, Edit(1, "status", "foo.bar", status="booked"))
    push(store, dm("foo.bar", at=T0 + timedelta(days=1)))
    push(store, dm("foo.bar", actor="marcus.closes", at=T0 - timedelta(days=1)))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert row["status"] == "booked"
    assert row["owner_actor"] == "marcus.closes"


def test_an_over_long_message_is_stored_cut_with_the_marker_within_4000_bytes(
    store: CloudStore,
) -> None:
    message = "👋" * 1250  # 5000 bytes
    push(store, dm("foo.bar", message=message))
    stored = store.logs_for("foo.bar")[0]["message_text"]
    assert len(stored.encode("utf-8")) <= 4000
    assert stored.endswith(TRUNCATION_MARKER)
    assert message.startswith(stored.removesuffix(TRUNCATION_MARKER))
    assert len(stored.encode("utf-8")) > 3990


def test_logs_for_returns_the_newest_first_up_to_the_limit(store: CloudStore) -> None:
    push(store, *(dm("foo.bar", at=T0 + timedelta(minutes=m), message=f"m{m}") for m in range(5)))
    push(store, dm("other.lead"))
    assert [r["message_text"] for r in store.logs_for("foo.bar", limit=3)] == ["m4", "m3", "m2"]


# -- push: edits -----------------------------------------------------------------------


def test_edits_apply_in_order_and_the_later_write_wins(store: CloudStore) -> None:
    edit(
        store,
        Edit(1, "add", "foo.bar", status="new", notes="from the import"),
        Edit(2, "status", "foo.bar", status="warm"),
        Edit(3, "notes", "foo.bar", notes="first note"),
        Edit(4, "status", "foo.bar", status="hot"),
        Edit(5, "notes", "foo.bar", notes="second note"),
        Edit(6, "add", "foo.bar", status="new"),  # already there: adds nothing
    )
    row = prospect(store, "foo.bar")
    assert row is not None
    assert (row["status"], row["notes"]) == ("hot", "second note")
    edit(store, Edit(7, "status", "foo.bar", status="cold"))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert (row["status"], row["notes"]) == ("cold", "second note")


def test_an_edit_that_changes_nothing_does_not_bump_the_version(store: CloudStore) -> None:
    edit(store, Edit(1, "add", "foo.bar", status="warm", notes="n"))
    before = prospect(store, "foo.bar")
    edit(store, Edit(2, "status", "foo.bar", status="warm"), Edit(3, "notes", "foo.bar", notes="n"))
    after = prospect(store, "foo.bar")
    assert before is not None and after is not None
    assert after["row_version"] == before["row_version"]
    edit(store, Edit(4, "notes", "foo.bar", notes=None))
    cleared = prospect(store, "foo.bar")
    assert cleared is not None
    assert cleared["notes"] is None
    assert cleared["row_version"] > after["row_version"]


def test_an_edit_for_a_lead_the_cloud_does_not_have_is_dropped_not_a_new_lead(
    store: CloudStore,
) -> None:
    edits = (
        Edit(1, "status", "new.lead", status="warm"),
        Edit(2, "notes", "n2", notes="x"),
        Edit(3, "append", "n3", notes="[2026-03-01 09:00:00 Ann] hi"),
    )
    with store.transaction() as conn:
        dropped = store.push_edits(conn, edits)
    assert dropped == list(edits)
    assert [prospect(store, h) for h in ("new.lead", "n2", "n3")] == [None, None, None]


def test_a_delete_removes_the_lead_and_its_logs_and_leaves_a_tombstone(store: CloudStore) -> None:
    push(store, dm("foo.bar"), dm("foo.bar"), dm("keep.me"))
    edit(store, Edit(1, "notes", "foo.bar", notes="secret"), Edit(2, "delete", "foo.bar"))
    assert prospect(store, "foo.bar") is None
    assert count(store, outreach_logs, outreach_logs.c.target_username == "foo.bar") == 0
    assert count(store, outreach_logs, outreach_logs.c.target_username == "keep.me") == 1
    assert count(store, prospect_tombstones, prospect_tombstones.c.target_username == "foo.bar")


def test_an_edit_after_a_delete_in_the_same_batch_does_not_jump_over_it(
    store: CloudStore,
) -> None:
    edit(store, Edit(1, "add", "foo.bar", status="warm"), Edit(2, "notes", "foo.bar", notes="x"))
    edit(
        store,
        Edit(3, "status", "foo.bar", status="hot"),
        Edit(4, "delete", "foo.bar"),
        Edit(5, "add", "foo.bar", status="new"),
    )
    row = prospect(store, "foo.bar")
    assert row is not None
    assert (row["status"], row["notes"]) == ("new", None)
    # Re-adding a deleted lead removes its tombstone: a cache must not delete it again.
    assert count(store, prospect_tombstones) == 0


def test_over_long_notes_are_stored_cut_with_the_marker(store: CloudStore) -> None:
    notes = "é" * 2500  # 5000 bytes
    edit(store, Edit(1, "add", "foo.bar"), Edit(2, "notes", "foo.bar", notes=notes))
    row = prospect(store, "foo.bar")
    assert row is not None
    assert len(row["notes"].encode("utf-8")) <= 4000
    assert row["notes"].endswith(TRUNCATION_MARKER)


# -- database-maintained LAST_UPDATED and row_version ---------------------------------------


def test_insert_and_update_are_stamped_by_the_database(store: CloudStore) -> None:
    before = utcnow()
    edit(store, Edit(1, "add", "foo.bar", status="new"))
    added = prospect(store, "foo.bar")
    assert added is not None
    assert added["row_version"] >= 1
    assert abs(added["last_updated"] - before) < timedelta(minutes=5)  # UTC, not local time
    edit(store, Edit(2, "status", "foo.bar", status="warm"))
    changed = prospect(store, "foo.bar")
    assert changed is not None
    assert changed["row_version"] > added["row_version"]
    assert changed["last_updated"] >= added["last_updated"]


def test_an_update_made_with_plain_sql_by_another_tool_is_stamped_too(store: CloudStore) -> None:
    edit(store, Edit(1, "add", "foo.bar", status="new"))
    added = prospect(store, "foo.bar")
    assert added is not None
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE prospects SET status = 'Warm', last_updated = "
            "'2001-01-01 00:00:00', row_version = 0 WHERE target_username = 'foo.bar'"
        )
    with store.engine.begin() as conn:  # a later transaction: a later version
        conn.exec_driver_sql(
            "INSERT INTO prospects (target_username, status, last_updated, row_version) "
            "VALUES ('by.hand', 'new', '2001-01-01 00:00:00', 99999)"
        )
    changed, by_hand = prospect(store, "foo.bar"), prospect(store, "by.hand")
    assert changed is not None and by_hand is not None
    assert changed["row_version"] > added["row_version"]
    assert changed["last_updated"] >= added["last_updated"]
    assert by_hand["row_version"] > changed["row_version"]
    assert by_hand["last_updated"] > datetime(2020, 1, 1)
    # The sync sees the other tool's edits.
    assert [r.handle for r in pull_all(store, after=Cursor(added["row_version"], "foo.bar"))] == [
        "foo.bar",
        "by.hand",
    ]


# -- pull ------------------------------------------------------------------------------


def test_pull_pages_are_in_version_order_and_include_tombstones(store: CloudStore) -> None:
    edit(store, *(Edit(i, "add", f"lead.{i}", status="new") for i in range(6)))
    push(store, dm("lead.2"))
    edit(store, Edit(10, "delete", "lead.4"), Edit(11, "notes", "lead.0", notes="n"))
    rows = pull_all(store)
    keys = [(r.version, r.handle) for r in rows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    if store.dialect == "sqlite":  # the clock: one version per write
        assert len({r.version for r in rows}) == len(rows)
    # The delete and the notes edit are one transaction: one version on PostgreSQL,
    # where the handle orders them; two clock values on SQLite.
    last = [("T", "lead.4"), ("P", "lead.0")]
    assert [(r.kind, r.handle) for r in rows][-4:] == [
        ("P", "lead.5"),
        ("P", "lead.2"),
        *(last if store.dialect == "sqlite" else last[::-1]),
    ]
    latest = {r.handle: r for r in rows}
    assert latest["lead.2"].status == "contacted"
    assert latest["lead.2"].owner_actor == "sarah.sells"
    assert latest["lead.2"].owner_operator == "Sarah"
    assert latest["lead.0"].notes == "n"
    assert latest["lead.4"].kind == "T"
    # Page by page with a page size of 1 gives the same rows as one page.
    assert pull_all(store, page=1) == rows


def test_a_pull_after_the_latest_version_is_empty(store: CloudStore) -> None:
    edit(store, Edit(1, "add", "foo.bar"))
    last = pull_all(store)[-1]
    with store.reading() as conn:
        assert store.pull_page(conn, Cursor(last.version, last.handle), 10) == []


def test_the_header_tells_the_clock_people_and_count(store: CloudStore) -> None:
    edit(store, Edit(1, "add", "a.lead"), Edit(2, "add", "b.lead"))
    top = max(r.version for r in pull_all(store))
    with store.reading() as conn:
        header = store.header(conn, with_count=True)
        light = store.header(conn)
    # SQLite's clock is the last version handed out; PostgreSQL's watermark is above it.
    assert header.version == top if store.dialect == "sqlite" else header.version > top
    assert header.purged_through == 0
    assert sorted(header.operators) == ["Marcus", "Sarah"]
    assert sorted(header.actors, key=lambda a: a.username) == sorted(TEAM, key=lambda a: a.username)
    assert header.prospect_count == 2
    assert light.prospect_count is None
    if store.dialect == "sqlite":
        assert light.version == header.version
    else:
        # The watermark follows the whole cluster's transaction ids: any other session
        # on the server (another test run, autovacuum's analyse) may move it on.
        assert light.version >= header.version


@pytest.mark.parametrize("pipeline", [True, False], ids=["pipeline", "libpq-13"])
def test_the_header_and_first_page_together_are_the_header_then_the_page(
    store: CloudStore, pipeline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not pipeline:  # a libpq without pipeline mode: the statements go one by one
        psycopg = pytest.importorskip("psycopg")
        monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda _: False))
    edit(store, *(Edit(i, "add", f"lead.{i}") for i in range(5)), Edit(9, "delete", "lead.3"))
    rows = pull_all(store)
    with store.reading() as conn:
        alone = store.header(conn)
        header, page = store.header_and_page(conn, Cursor(rows[1].version, rows[1].handle), 3)
        _, rest = store.header_and_page(conn, Cursor(rows[4].version, rows[4].handle), 3)
    assert page == rows[2:5] and rest == rows[5:]
    assert (header.purged_through, header.cloud_id, header.team_version) == (
        alone.purged_through,
        alone.cloud_id,
        alone.team_version,
    )
    assert sorted(header.operators) == sorted(alone.operators) and header.actors == alone.actors
    assert header.version >= alone.version and header.now is not None


def test_purging_old_tombstones_moves_the_horizon(store: CloudStore) -> None:
    edit(store, Edit(1, "add", "gone.lead"), Edit(2, "delete", "gone.lead"))
    tombstone = next(r for r in pull_all(store) if r.kind == "T")
    assert store.purge_tombstones(utcnow() - timedelta(days=1)) == 0
    assert store.purge_tombstones(utcnow() + timedelta(days=1)) == 1
    with store.reading() as conn:
        header = store.header(conn)
    assert header.purged_through == tombstone.version
    assert [r for r in pull_all(store) if r.kind == "T"] == []
    assert store.purge_tombstones(utcnow() + timedelta(days=1)) == 0


def test_counts_cover_the_seed_tables(store: CloudStore) -> None:
    push(store, dm("foo.bar"), dm("foo.bar"))
    assert store.counts() == {"operators": 2, "actors": 2, "prospects": 1, "outreach_logs": 2}


# -- check and reset -------------------------------------------------------------------


def test_check_reports_a_reachable_cloud_with_its_schema_and_counts(store: CloudStore) -> None:
    info = store.check()
    assert info.reachable is True
    assert info.schema_version == schema.SCHEMA_VERSION
    assert info.round_trip_ms is not None and info.round_trip_ms >= 0
    assert info.backend in ("sqlite", "postgresql")
    assert info.counts["operators"] == 2
    assert info.demo_data is False


def test_check_reports_an_unreachable_cloud_without_raising(tmp_path: Any) -> None:
    for url in (
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing",
        f"sqlite:///{tmp_path}/no/such/folder/cloud.db",
    ):
        cloud = cloud_store_for(url)
        try:
            info = cloud.check()
        finally:
            cloud.dispose()
        assert info.reachable is False
        assert "unreachable" in info.message


def test_reset_empties_every_table_and_the_triggers_still_work(store: CloudStore) -> None:
    push(store, dm("foo.bar"))
    edit(store, Edit(1, "add", "gone"), Edit(2, "delete", "gone"))
    store.reset()
    assert store.counts() == {"operators": 0, "actors": 0, "prospects": 0, "outreach_logs": 0}
    assert count(store, prospect_tombstones) == 0
    assert store.schema_version() == schema.SCHEMA_VERSION
    with store.reading() as conn:
        start = store.header(conn).version
    assert start == 0 or store.dialect == "postgresql"  # PostgreSQL: the watermark
    edit(store, Edit(1, "add", "again"), Edit(2, "delete", "again"))
    ((kind, handle, version),) = [(r.kind, r.handle, r.version) for r in pull_all(store)]
    with store.reading() as conn:
        clock = store.header(conn).version
    assert (kind, handle) == ("T", "again")
    assert version == clock if store.dialect == "sqlite" else start <= version < clock
