"""The DM rule's SQL (``cloud/rules_sql.py``) against the domain rule it encodes.

Two kinds of proof:

- property tests (hypothesis) run random sequences of DMs, edits, deletions and rows
  written by other tools through the real store on a SQLite file and on the real
  PostgreSQL, and through the domain rule (``domain.rules.apply_dm``) on a model; the
  leads must come out the same;
- Oracle cannot run here, so its MERGE is compared, as a parsed tree (sqlglot), with
  the statement SQLite runs: the same SET arms (every CASE arm), the same WHERE, the
  same join condition and insert columns, once the aliases are named alike.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import oracle, sqlite
from sqlglot import exp

from dmledger.app.cloud_access import cloud_store_for
from dmledger.cloud import tables as schema
from dmledger.cloud.exchange import upsert
from dmledger.cloud.exchange.merge import Merge
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import prospects
from dmledger.domain.records import ActorRow, Edit, OutgoingLog
from dmledger.domain.rules import Contact, apply_dm
from dmledger.domain.statuses import canonical_status, read_stored_status

T0 = datetime(2026, 3, 1, 9, 0, 0)
ACTORS = ("ann.sells", "bob.sells", "cy.sells")
# What the ledger writes, and what the seed's tool wrote (any case, legacy names).
STATUSES = ("new", "contacted", "warm", "booked", "excluded", "New", "CONTACTED", "Cold_NoReply")
LEADS = ("a.lead", "b.lead")

# -- the model: the domain rule on plain values -------------------------------------


@dataclass(frozen=True)
class Lead:
    status: str | None
    owner: str | None
    first: datetime | None

    def seen(self) -> tuple[str, str | None, datetime | None]:
        """As the ledger reads it: ``Warm`` is ``warm``, no status is ``new``."""
        return canonical_status(self.status), self.owner, self.first


def after_dm(lead: Lead | None, actor: str, at: datetime) -> Lead:
    contact = apply_dm(
        None if lead is None else Contact(read_stored_status(lead.status), lead.owner, lead.first),
        actor,
        at,
    )
    unchanged = lead is not None and read_stored_status(lead.status) is contact.status
    # A DM that leaves the status as it was leaves the stored text as it was.
    status = lead.status if unchanged and lead is not None else contact.status.value
    return Lead(status, contact.owner_actor, contact.first_contacted)


# -- operations ---------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=3).map(lambda m: T0 + timedelta(minutes=m))
dms = st.tuples(st.sampled_from(LEADS), st.sampled_from(ACTORS), minutes)
operations = st.one_of(
    st.tuples(st.just("dms"), st.lists(dms, min_size=1, max_size=3)),
    st.tuples(st.just("add"), st.sampled_from(LEADS), st.sampled_from(STATUSES)),
    st.tuples(st.just("status"), st.sampled_from(LEADS), st.sampled_from(STATUSES)),
    st.tuples(st.just("delete"), st.sampled_from(LEADS)),
    # A row as another tool (the seed's) may have left it: any status, an owner
    # without a first contact, a first contact without an owner.
    st.tuples(
        st.just("row"),
        st.sampled_from(LEADS),
        st.one_of(st.none(), st.sampled_from(STATUSES)),
        st.one_of(st.none(), st.sampled_from(ACTORS)),
        st.one_of(st.none(), minutes),
    ),
)


def model_step(model: dict[str, Lead], op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "dms":
        # The cloud applies a batch's earliest DM to each lead (push_logs).
        for handle, group in itertools.groupby(sorted(op[1]), key=lambda d: d[0]):
            _, actor, at = min(group, key=lambda d: (d[2], d[1]))
            model[handle] = after_dm(model.get(handle), actor, at)
    elif kind == "add":
        model.setdefault(op[1], Lead(op[2], None, None))
    elif kind == "status":
        if op[1] in model:
            model[op[1]] = Lead(op[2], model[op[1]].owner, model[op[1]].first)
    elif kind == "delete":
        model.pop(op[1], None)
    else:
        model[op[1]] = Lead(op[2], op[3], op[4])


def store_step(store: CloudStore, prefix: str, op: tuple[Any, ...]) -> None:
    kind = op[0]
    with store.transaction() as conn:
        if kind == "dms":
            batch = [
                OutgoingLog(str(uuid.uuid4()), prefix + h, actor, "Team", "hi", at)
                for h, actor, at in op[1]
            ]
            store.push_logs(conn, batch)
        elif kind in ("add", "status", "delete"):
            store.push_edits(
                conn, [Edit(1, kind, prefix + op[1], status=op[2] if kind != "delete" else None)]
            )
        else:
            write_row(conn, prefix + op[1], Lead(op[2], op[3], op[4]))


def write_row(conn: sa.Connection, handle: str, lead: Lead) -> None:
    values = {"status": lead.status, "owner_actor": lead.owner, "first_contacted": lead.first}
    found = conn.execute(
        sa.update(prospects).where(prospects.c.target_username == handle).values(**values)
    ).rowcount
    if not found:
        conn.execute(sa.insert(prospects).values(target_username=handle, **values))


def cloud_leads(store: CloudStore, prefix: str) -> dict[str, tuple[Any, ...]]:
    p = prospects.c
    with store.reading() as conn:
        rows = conn.execute(
            sa.select(
                p.target_username, p.status, p.owner_actor, p.first_contacted, p.row_version
            ).where(p.target_username.startswith(prefix))
        )
        return {r[0].removeprefix(prefix): tuple(r[1:]) for r in rows}


@pytest.fixture
def rule_store(cloud_url: str) -> Iterator[CloudStore]:
    store = cloud_store_for(cloud_url)
    store.init_schema()
    with store.transaction() as conn:
        store.ensure_people(conn, ["Team"], [ActorRow(a, "Team", "active") for a in ACTORS])
    yield store
    store.dispose()


# Each example works on leads of its own (a fresh prefix) in the test's cloud.
RULE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@RULE_SETTINGS
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_the_cloud_applies_dms_and_edits_as_the_domain_rule_does(
    rule_store: CloudStore, ops: list[tuple[Any, ...]]
) -> None:
    prefix = f"{uuid.uuid4().hex[:8]}."
    model: dict[str, Lead] = {}
    for step, op in enumerate(ops):
        model_step(model, op)
        store_step(rule_store, prefix, op)
        found = cloud_leads(rule_store, prefix)
        seen = {h: Lead(*row[:3]).seen() for h, row in found.items()}
        assert seen == {h: lead.seen() for h, lead in model.items()}, (step, op)


@RULE_SETTINGS
@given(
    before=st.one_of(
        st.none(),
        st.tuples(
            st.one_of(st.none(), st.sampled_from(STATUSES)),
            st.one_of(st.none(), st.sampled_from(ACTORS)),
            st.one_of(st.none(), minutes),
        ),
    ),
    actor=st.sampled_from(ACTORS),
    at=minutes,
)
def test_the_contact_statement_changes_a_row_exactly_when_the_domain_rule_does(
    rule_store: CloudStore,
    before: tuple[str | None, str | None, datetime | None] | None,
    actor: str,
    at: datetime,
) -> None:
    """The statement alone (no DM figures): its WHERE must hold exactly when the rule
    changes the lead, or an unchanged lead would get a new version for every cache."""
    handle = f"{uuid.uuid4().hex[:8]}.lead"
    old = None if before is None else Lead(*before)
    if old is not None:
        with rule_store.transaction() as conn:
            write_row(conn, handle, old)
    (version_before,) = [r[3] for r in cloud_leads(rule_store, handle).values()] or [None]
    with rule_store.transaction() as conn:
        dm = OutgoingLog("x", handle, actor, "Team", "hi", at)
        upsert.apply_contacts(conn, rule_store.dialect, [dm])
    expected = after_dm(old, actor, at)
    ((status, owner, first, version),) = cloud_leads(rule_store, handle).values()
    assert Lead(status, owner, first).seen() == expected.seen()
    if old is not None:
        changed = (status, owner, first) != (old.status, old.owner, old.first)
        assert changed == (old.seen() != expected.seen())
        assert (version != version_before) == changed


# -- Oracle: the same trees ---------------------------------------------------------

ROLES = {"t": "cur", "s": "new", "prospects": "cur", "excluded": "new"}


def _named_alike(node: exp.Expression) -> exp.Expression:
    """Qualify each column by its role: ``cur`` (the row there) or ``new`` (incoming)."""

    def rename(part: exp.Expression) -> exp.Expression:
        if isinstance(part, exp.Column) and part.table:
            return exp.column(part.name, table=ROLES[part.table])
        return part

    return node.copy().transform(rename)


def _oracle(statement: Merge) -> exp.Merge:
    sql = str(statement.compile(dialect=oracle.dialect()))
    parsed = sqlglot.parse_one(sql, read="oracle")
    assert isinstance(parsed, exp.Merge), sql
    return parsed


def _sqlite(statement: Any, columns: list[str]) -> exp.Insert:
    sql = str(statement.compile(dialect=sqlite.dialect(), column_keys=columns))
    parsed = sqlglot.parse_one(sql, read="sqlite")
    assert isinstance(parsed, exp.Insert), sql
    return parsed


def _whens(merge: exp.Merge) -> dict[bool, exp.Expression]:
    return {bool(w.args["matched"]): w.args["then"] for w in merge.args["whens"].expressions}


def _key_match(conflict: exp.OnConflict) -> str:
    """``ON CONFLICT (a, b)`` as the join it means: ``cur.a = new.a AND cur.b = new.b``."""
    keys = [k.this.name for k in conflict.args["conflict_keys"]]
    return " AND ".join(f"cur.{k} = new.{k}" for k in keys)


def _insert(then: exp.Expression) -> tuple[list[str], list[str]]:
    names = [c.name for c in then.args["this"].expressions]
    values = [_named_alike(v).sql() for v in then.args["expression"].expressions]
    return names, values


def test_the_oracle_contact_merge_is_the_tree_sqlite_and_postgresql_run() -> None:
    dm = OutgoingLog("x", "a.lead", ACTORS[0], "Team", "hi", T0)
    columns = list(upsert.CONTACT_COLUMNS)
    insert = _sqlite(upsert.contacts_statement("sqlite", [dm]), columns)
    conflict = insert.args["conflict"]
    merge = _oracle(upsert.contacts_merge())
    update, insert_new = _whens(merge)[True], _whens(merge)[False]
    # The join: the conflict target, as Oracle's ON.
    assert _named_alike(merge.args["on"].unnest()).sql() == _key_match(conflict)
    # Every SET arm: the same column, the same CASE (arms, order, tie-break).
    theirs = {e.this.name: _named_alike(e.expression) for e in conflict.expressions}
    ours = {e.this.name: _named_alike(e.expression) for e in update.expressions}
    assert list(ours) == list(theirs) == ["status", "owner_actor", "first_contacted"]
    for column, tree in theirs.items():
        assert ours[column] == tree, (column, ours[column].sql(), tree.sql())
    # The same WHERE: a DM that changes nothing touches no row on either.
    assert _named_alike(update.args["where"].this) == _named_alike(conflict.args["where"].this)
    # The same row when the lead is not there: the columns SQLite inserts, from the
    # same values (``_contact_values``), which Oracle reads through its source row.
    names, values = _insert(insert_new)
    assert names == [c.name for c in insert.this.expressions] == columns
    assert values == [f"new.{c}" for c in columns]


@pytest.mark.parametrize(
    ("table", "keys"),
    [
        (schema.operators, ["operator_name"]),
        (schema.actors, ["username"]),
        (schema.prospects, ["target_username"]),
        (schema.outreach_logs, ["client_log_id"]),
        (schema.prospect_replies, ["client_reply_id"]),
        # No caller has a two-column key yet; the join must still need every column.
        (schema.outreach_logs, ["target_username", "client_log_id"]),
    ],
    ids=lambda v: v.name if isinstance(v, sa.Table) else "+".join(v),
)
def test_the_oracle_insert_ignore_matches_on_every_key_as_on_conflict_does(
    table: sa.Table, keys: list[str]
) -> None:
    columns = [c.name for c in table.columns if c.name in {*keys, "target_username"}]
    statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    conflict = _sqlite(statement, columns).args["conflict"]
    merge = _oracle(upsert.insert_ignore_merge(table, columns, keys))
    assert _named_alike(merge.args["on"].unnest()).sql() == _key_match(conflict)
    whens = _whens(merge)
    assert list(whens) == [False], "an insert-if-absent never updates"
    assert _insert(whens[False]) == (columns, [f"new.{c}" for c in columns])


def test_merge_compiles_for_oracle_only() -> None:
    with pytest.raises(sa.exc.CompileError, match="Oracle only, not sqlite"):
        upsert.contacts_merge().compile(dialect=sqlite.dialect())
