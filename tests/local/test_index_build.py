"""The indexes after a full resync's rows: built in steps of their own transactions, so
writes land between the steps (and are indexed once), resumable, and left alone while
a resync writes rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dmledger.domain.records import Prospect, PulledRow
from dmledger.local import meta_keys as keys
from dmledger.local import schema
from dmledger.local.store import LocalStore, ProspectFilter


@pytest.fixture
def store(home: Path) -> Iterator[LocalStore]:
    local = LocalStore.in_home(home)
    yield local
    local.dispose()


WORDS = ["apple", "berry", "cherry", "damson", "elder", "figgy", "grape", "hazel", "iris"]


def _resync_rows(store: LocalStore) -> None:
    """What a full resync leaves: the rows in, the indexes off."""
    with store.transaction() as conn:
        store.suspend_search_index(conn)
        rows = [PulledRow("P", f"lead.{i}", i + 1, notes=f"likes {w}") for i, w in enumerate(WORDS)]
        store.apply_pulled(conn, rows, gen=1)


def _found(store: LocalStore, text: str) -> list[str]:
    with store.reading() as conn:
        rows = store.list_prospects(conn, ProspectFilter(search=text), limit=100)
    return sorted(p.handle for p in rows)


def _integrity(store: LocalStore) -> None:
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO prospects_fts(prospects_fts) VALUES ('integrity-check')")


def _objects(store: LocalStore) -> set[str]:
    with store.reading() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')"
        ).all()
    return {str(r[0]) for r in rows}


def test_writes_between_the_steps_of_the_build_are_indexed_once(store: LocalStore) -> None:
    _resync_rows(store)
    steps: list[tuple[int, int]] = []

    def write_between(done: int, total: int) -> None:
        steps.append((done, total))
        if len(steps) == 1:  # rowids 1-3 indexed, 4-9 not yet
            with store.transaction() as conn:  # a writer gets in: no build-long transaction
                store.put_prospect(conn, Prospect("lead.0", "new", notes="likes mango"))  # below
                store.put_prospect(conn, Prospect("lead.7", "new", notes="likes lemon"))  # above
                store.delete_prospect(conn, "lead.1")  # below the mark
                store.delete_prospect(conn, "lead.8")  # above it
                store.put_prospect(conn, Prospect("late.lead", "new", notes="likes quince"))

    assert store.finish_indexing(write_between, chunk=3) is True

    assert steps == [(3, 9), (6, 9), (9, 9)]  # late.lead took the rowid lead.8 left
    _integrity(store)
    with store.reading() as conn:
        assert not store.search_indexing(conn)
        assert store.get_meta(conn, keys.SEARCH_INDEX_THROUGH) is None
    assert {i.name for i in schema.PROSPECT_INDEXES} | set(schema.FTS_TRIGGERS) <= _objects(store)
    assert _found(store, "mango") == ["lead.0"] and _found(store, "apple") == []
    assert _found(store, "lemon") == ["lead.7"] and _found(store, "hazel") == []
    assert _found(store, "berry") == [] and _found(store, "iris") == []
    assert _found(store, "quince") == ["late.lead"]
    assert _found(store, "cherry") == ["lead.2"]
    # Maintained row by row again by the usual triggers.
    with store.transaction() as conn:
        store.put_prospect(conn, Prospect("lead.2", "new", notes="likes olive"))
    assert _found(store, "olive") == ["lead.2"] and _found(store, "cherry") == []
    _integrity(store)


class Stopped(Exception):
    pass


def test_a_build_stopped_half_way_resumes_where_it_stopped(store: LocalStore) -> None:
    _resync_rows(store)

    def stop(done: int, total: int) -> None:
        if done >= 6:
            raise Stopped

    with pytest.raises(Stopped):
        store.finish_indexing(stop, chunk=3)
    with store.reading() as conn:
        assert store.search_indexing(conn)  # search still scans, and says so
    assert _found(store, "grape") == ["lead.6"]

    steps: list[int] = []
    assert store.finish_indexing(lambda done, _total: steps.append(done), chunk=3) is True

    assert steps == [9]  # rows 1-6 were kept
    _integrity(store)
    assert _found(store, "grape") == ["lead.6"] and _found(store, "apple") == ["lead.0"]


def test_no_build_while_a_full_resync_writes_rows(store: LocalStore) -> None:
    _resync_rows(store)
    with store.transaction() as conn:
        store.set_meta(conn, keys.RESYNC_GEN_ACTIVE, "1")

    assert store.finish_indexing() is False

    assert not {i.name for i in schema.PROSPECT_INDEXES} & _objects(store)
    with store.transaction() as conn:
        store.delete_meta(conn, keys.RESYNC_GEN_ACTIVE)
    assert store.finish_indexing() is True
    _integrity(store)
