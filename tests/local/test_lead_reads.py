"""The Leads list's reads: every plan gives the same pages, and each filter has its index."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dmledger.domain.records import Prospect
from dmledger.local import schema, search
from dmledger.local.rows import iso
from dmledger.local.store import DB_NAME, LocalStore, ProspectFilter

STATUSES = ("new", "contacted", "warm", "cold")
OWNERS = ("ana", "ben", None)
T0 = datetime(2026, 1, 1)


@pytest.fixture
def store(home: Path) -> Iterator[LocalStore]:
    local = LocalStore.in_home(home)
    rng = random.Random(5)
    words = ("coach", "glow", "studio", "ka", "mi", "the")
    with local.transaction() as conn:
        for i in range(600):
            handle = "".join(rng.choice(words) for _ in range(2)) + str(i)
            notes = rng.choice((None, None, "Asked about COACHING", "the studio"))
            local.put_prospect(
                conn,
                Prospect(
                    handle,
                    rng.choice(STATUSES),
                    owner_actor=rng.choice(OWNERS),
                    notes=notes,
                    first_contacted=T0 + timedelta(days=rng.randrange(90)),
                ),
            )
    yield local
    local.dispose()


def expected(rows: list[Prospect], where: ProspectFilter) -> list[str]:
    """What a filter selects, computed here from every row, in handle order."""
    text = (where.search or "").lower()
    found = [
        p.handle
        for p in rows
        if (where.status is None or p.status == where.status)
        and (where.owner_actor is None or p.owner_actor == where.owner_actor)
        and (where.contacted_from is None or (p.first_contacted or T0) >= where.contacted_from)
        and (where.contacted_to is None or (p.first_contacted or T0) < where.contacted_to)
        and (not text or text in p.handle.lower() or text in (p.notes or "").lower())
    ]
    return sorted(found)


def pages(store: LocalStore, where: ProspectFilter, size: int) -> list[str]:
    """Every handle a filter selects, read page by page along the keyset."""
    out: list[str] = []
    after = None
    with store.reading() as conn:
        while True:
            page = store.list_prospects(conn, where, after=after, limit=size)
            out += [p.handle for p in page]
            if len(page) < size:
                return out
            after = page[-1].handle


FILTERS = (
    ProspectFilter(status="warm"),
    ProspectFilter(owner_actor="ana", status="contacted"),
    ProspectFilter(
        status="cold", contacted_from=T0 + timedelta(days=30), contacted_to=T0 + timedelta(days=60)
    ),
    ProspectFilter(search="coach"),
    ProspectFilter(search="the", status="warm"),
    ProspectFilter(search="ka"),
    ProspectFilter(search="glowka1"),
    ProspectFilter(search="coaching", owner_actor="ben"),
)


@pytest.mark.parametrize("dense", [0, 10**9], ids=["walk-in-handle-order", "sort-the-matches"])
def test_every_plan_gives_the_same_pages_as_the_rule(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch, dense: int
) -> None:
    # A search with many matches walks handle order; with few it sorts them: the
    # threshold is lowered (or raised) so both plans read the same small cache.
    monkeypatch.setattr(search, "_FTS_DENSE", dense)
    with store.reading() as conn:
        everything = store.list_prospects(conn, ProspectFilter(), limit=10_000)
    assert len(everything) == 600
    for where in FILTERS:
        want = expected(everything, where)
        assert want, where  # each filter selects something
        assert pages(store, where, 7) == want, where
        assert pages(store, where, 1000) == want, where
        with store.reading() as conn:
            assert store.count_prospects(conn, where) == len(want), where


def plans(store: LocalStore, where: ProspectFilter) -> list[str]:
    """The query plan of the page read of a filter (EXPLAIN QUERY PLAN, detail column)."""
    seen: list[tuple[str, Any]] = []

    def spy(_c: Any, _cur: Any, statement: str, parameters: Any, *_a: Any) -> None:
        if statement.startswith("SELECT target_username"):
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", spy)
    try:
        with store.reading() as conn:
            store.list_prospects(conn, where, after="m", limit=50)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", spy)
    assert len(seen) == 1
    db = sqlite3.connect(store.path)
    try:
        return [str(r[3]) for r in db.execute("EXPLAIN QUERY PLAN " + seen[0][0], seen[0][1])]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (ProspectFilter(status="warm"), "ix_prospects_status_first"),
        (ProspectFilter(owner_actor="ana"), "ix_prospects_owner"),
        (ProspectFilter(owner_actor="ana", status="warm"), "ix_prospects_owner_status"),
        (ProspectFilter(owner_operator="Op1"), "ix_prospects_operator"),
        (
            ProspectFilter(status="warm", contacted_from=T0, contacted_to=T0 + timedelta(days=9)),
            "ix_prospects_status_first",
        ),
    ],
)
def test_each_filter_reads_its_rows_in_handle_order_from_an_index(
    store: LocalStore, where: ProspectFilter, index: str
) -> None:
    # No table scan and no sort: a page reads about its own rows, whatever the size.
    plan = plans(store, where)
    assert any(f"INDEX {index} " in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_a_search_with_many_matches_walks_handle_order_and_one_with_few_sorts_them(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "_FTS_DENSE", 10)
    many = plans(store, ProspectFilter(search="coach"))
    assert not any("TEMP B-TREE" in step for step in many), many
    few = plans(store, ProspectFilter(search="glowka1", status="warm"))
    assert any("INTEGER PRIMARY KEY (rowid=?)" in step for step in few), few
    short = plans(store, ProspectFilter(search="ka"))
    assert any("COVERING INDEX ix_prospects_handle_notes" in step for step in short), short


def test_an_older_caches_replaced_index_goes_and_the_new_ones_come(home: Path) -> None:
    LocalStore.in_home(home).dispose()
    db = sqlite3.connect(home / DB_NAME)
    db.execute("DROP INDEX ix_prospects_status_first")
    db.execute("CREATE INDEX ix_prospects_status ON prospects (status, target_username)")
    db.commit()
    LocalStore.in_home(home).dispose()
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert "ix_prospects_status" not in names
    assert {i.name for i in schema.PROSPECT_INDEXES} <= names


def test_a_lead_reads_back_with_every_column(store: LocalStore) -> None:
    moment = datetime(2026, 2, 3, 4, 5, 6, 7)
    with store.transaction() as conn:
        store.put_prospect(
            conn,
            Prospect(
                "zz.full", "warm", owner_actor="ana", owner_operator="Op1", notes="n",
                first_contacted=moment, last_updated=moment, row_version=3,
            ),
        )  # fmt: skip
    with store.reading() as conn:
        [listed] = store.list_prospects(conn, ProspectFilter(search="zz.full"), limit=5)
        assert listed == store.get_prospect(conn, "zz.full")
    assert iso(listed.first_contacted) == iso(moment)
    assert (listed.owner_operator, listed.row_version) == ("Op1", 3)
