"""Sync figures against PostgreSQL: the initial pull (P2), the push over a 50 ms round
trip (P3), the no-op / incremental sync over the same round trip (P4), a foreign tool's
bulk insert (P8) and writers beside a long transaction (P9)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from bench.context import (
    RunContext,
    cache_checksum,
    new_home,
    open_via,
    round_trip_time,
    run_child,
)
from bench.data import ACTORS, EPOCH, actor_owner, init_cloud, load_people, make_handles
from bench.faults import ProxyProcess
from bench.harness import ONE_WAY_LATENCY, Figure, median, ratio, timed
from bench.seed_method import push_like_the_seed
from dmledger.app.cloud_access import cloud_store_for
from dmledger.cloud.connecting.engine import count_round_trips
from dmledger.domain.records import OutgoingLog
from dmledger.local.effects import apply_dm_to_cache
from dmledger.local.store import LocalStore
from dmledger.sync.engine import SyncReport

MESSAGE = (
    "Hey {0}! Loved your latest post about your studio, the before/after shots are great. "
    "Quick question: are you taking on new clients this month?"
)


# -- P2 ------------------------------------------------------------------------------


def initial_pull(ctx: RunContext) -> list[Figure]:
    """P2: DM Ledger's initial pull vs the plain copy: a server-side cursor + one
    executemany into a SQLite table with only its primary key."""
    url = ctx.db.cloud_url()
    floor_home = new_home(ctx.tmp / "p2_floor", url)
    pull_home = new_home(ctx.tmp / "p2_pull", url)
    with psycopg.connect(ctx.db.dsn()) as conn:  # warm the server's cache for both runs
        conn.execute("SELECT count(*), max(length(notes)) FROM prospects").fetchone()
    floor = run_child("floor", str(floor_home), ctx.db.dsn())
    ctx.log(f"P2 floor: {floor['seconds']:.1f} s, {floor['peak_rss_mb']:.0f} MB")
    pulled = run_child("pull", str(pull_home))
    # `dmledger sync` returns once the rows are in (the P2 figure: the cache is complete,
    # cards and filters answer, search scans and says so); its indexes are built after.
    ready = pulled["seconds"] + pulled["index_seconds"]
    ctx.log(
        f"P2 pull: sync returned after {pulled['seconds']:.1f} s, indexes ready after "
        f"{ready:.1f} s ({pulled['index_seconds']:.1f} s of building), "
        f"{pulled['peak_rss_mb']:.0f} MB"
    )
    same = cache_checksum(floor_home, "plain_copy.db", "copied") == cache_checksum(pull_home)
    if not same:
        ctx.notes.append("P2: the pulled cache differs from the floor's copy of the cloud")
    if pulled["indexes_pending"]:
        ctx.notes.append("P2: the indexes were still pending after the build")
    ctx.cache_home = pull_home
    rows = int(pulled["rows"])
    time_ratio = ratio(pulled["seconds"], floor["seconds"])
    ready_ratio = ratio(ready, floor["seconds"])
    details = {
        "rows": rows,
        "floor_rows": floor["rows"],
        "same_rows_as_floor": same,
        "floor_peak_rss_mb": round(floor["peak_rss_mb"], 1),
        "rows_per_second": round(rows / pulled["seconds"]),
        "sync_returned_seconds": round(pulled["seconds"], 2),
        "index_seconds": round(pulled["index_seconds"], 2),
        "indexes_ready_seconds": round(ready, 2),
        "indexes_ready_ratio": ready_ratio,
        # CPU time of each child process (the pull's includes importing the app).
        "floor_cpu_seconds": round(floor["cpu_seconds"], 2),
        "sync_cpu_seconds": round(pulled["cpu_seconds"], 2),
        "index_cpu_seconds": round(pulled["index_cpu_seconds"], 2),
    }
    floor_name = "plain copy: server-side cursor into a SQLite table with only its primary key"
    return [
        Figure(
            "P2",
            f"initial pull of {rows:,} prospects (no proxy): dmledger sync returned",
            pulled["seconds"],
            "s",
            floor_name,
            floor["seconds"],
            time_ratio,
            "≤ 1.5× baseline",
            time_ratio is not None and time_ratio <= 1.5 and same,
            details,
        ),
        Figure(
            "P2",
            "initial pull: search index and filter indexes ready (built after the sync)",
            ready,
            "s",
            floor_name,
            floor["seconds"],
            ready_ratio,
            "—",
            None,
            {"index_seconds": round(pulled["index_seconds"], 2)},
        ),
        Figure(
            "P2",
            "initial pull: peak RSS of the pulling process (indexes built in it too)",
            pulled["peak_rss_mb"],
            "MB",
            None,
            None,
            None,
            "≤ 300 MB",
            pulled["peak_rss_mb"] <= 300,
            {"floor_peak_rss_mb": round(floor["peak_rss_mb"], 1)},
        ),
    ]


# -- P4 ------------------------------------------------------------------------------


def sync_round_trips(ctx: RunContext) -> list[Figure]:
    """P4: a no-op sync and an incremental pull of a few changes, over the 50 ms proxy."""
    assert ctx.cache_home is not None, "P4 needs the cache pulled by P2"
    rng = random.Random(ctx.seed + 4)
    with ProxyProcess((ctx.db.host, ctx.db.port), latency=ONE_WAY_LATENCY) as proxy:
        via = ctx.db.cloud_url(port=proxy.port)
        rtt = round_trip_time(
            f"postgresql://{ctx.db.user}@127.0.0.1:{proxy.port}/{ctx.db.name}", samples=15
        )
        ledger = open_via(ctx.cache_home, via)
        try:
            ledger.sync()  # opens the pooled connection; nothing to move
            engine = ledger.sync_engine()
            noop_app, noop_engine, noop_trips = [], [], []
            for _ in range(ctx.sizes.repeats):
                with count_round_trips(ledger.cloud.engine) as trips:
                    seconds, report = timed(ledger.sync)
                assert not report.moved, "a no-op sync moved rows"
                noop_app.append(seconds)
                noop_trips.append(trips.total)
                seconds, _ = timed(engine.sync_once)
                noop_engine.append(seconds)
            incremental, inc_trips, pulled = [], [], 0
            for _ in range(ctx.sizes.repeats):
                chosen = rng.sample(ctx.handles, ctx.sizes.changes)
                with psycopg.connect(ctx.db.dsn()) as conn:
                    conn.execute(
                        "UPDATE prospects SET status = CASE status WHEN 'warm' THEN 'hot' "
                        "ELSE 'warm' END WHERE target_username = ANY(%s)",
                        (chosen,),
                    )
                with count_round_trips(ledger.cloud.engine) as trips:
                    seconds, report = timed(ledger.sync)
                pulled = report.pulled
                assert pulled == len(chosen), f"pulled {pulled}, changed {len(chosen)}"
                incremental.append(seconds)
                inc_trips.append(trips.total)
        finally:
            ledger.close()
    noop = median(noop_app)
    inc = median(incremental)
    return [
        Figure(
            "P4",
            "no-op sync over a 50 ms round trip (Ledger.sync)",
            noop,
            "s",
            "RTT (SELECT 1 through the proxy)",
            rtt,
            ratio(noop, rtt),
            "≤ 2 RTT",
            noop <= 2 * rtt,
            {
                "round_trips_counted": max(noop_trips),
                "engine_only_seconds": round(median(noop_engine), 4),
                "engine_only_rtt": round(median(noop_engine) / rtt, 2),
                "samples": len(noop_app),
            },
        ),
        Figure(
            "P4",
            f"incremental pull of {pulled} changes among {len(ctx.handles):,} (Ledger.sync)",
            inc,
            "s",
            "RTT",
            rtt,
            ratio(inc, rtt),
            "≤ 3 RTT + 20 ms",
            inc <= 3 * rtt + 0.020,
            {"round_trips_counted": max(inc_trips), "samples": len(incremental)},
        ),
    ]


# -- P3 ------------------------------------------------------------------------------


def queue_logs(home: Path, handles: list[str], actor: str, operator: str) -> None:
    """Record one DM to each handle in ``home``'s queue, as ``dmledger log`` would."""
    store = LocalStore.in_home(home)
    try:
        rows = _push_rows(handles, actor, operator)
        for start in range(0, len(rows), 1000):
            with store.transaction() as conn:
                for row in rows[start : start + 1000]:
                    item = OutgoingLog(*row)
                    local_id = store.insert_log(conn, item)
                    assert local_id is not None
                    apply_dm_to_cache(store, conn, replace(item, local_id=local_id))
    finally:
        store.dispose()


def push(ctx: RunContext) -> list[Figure]:
    """P3: push the queue over the 50 ms proxy vs the floor and vs the seed's method."""
    actor = "sender.01"
    operator = actor_owner(actor)
    n = ctx.sizes.push_logs
    for schema in ("p3", "p3seed"):
        ctx.db.create_schema(schema)
        init_cloud(ctx.db.cloud_url(schema))
        load_people(ctx.db.dsn(schema))
    targets = make_handles(n, ctx.seed + 3, prefix="p3")
    sample = make_handles(ctx.sizes.seed_sample, ctx.seed + 33, prefix="sd")
    push_home = new_home(ctx.tmp / "p3_push", ctx.db.cloud_url("p3"), operator=operator)
    seed_home = new_home(ctx.tmp / "p3_seed", ctx.db.cloud_url("p3seed"), operator=operator)
    with ProxyProcess((ctx.db.host, ctx.db.port), latency=ONE_WAY_LATENCY) as proxy:
        plain = f"postgresql://{ctx.db.user}@127.0.0.1:{proxy.port}/{ctx.db.name}"
        rtt = round_trip_time(plain)
        ledger = open_via(push_home, ctx.db.cloud_url("p3", port=proxy.port))
        try:
            ledger.sync()  # the pooled connection is open, the cursor set: a running agent
            queue_logs(push_home, targets, actor, operator)
            engine = ledger.sync_engine()
            report = SyncReport()
            # A sync reads the header (people, clock) before it pushes.
            header = engine.cloud.header(with_count=False)
            before = proxy.stats()
            with count_round_trips(ledger.cloud.engine) as trips:
                seconds, _ = timed(lambda: engine._push(report, timedelta(0), header))
            after = proxy.stats()
            assert report.pushed_logs == n, f"pushed {report.pushed_logs} of {n}"
            # The same push with the latency switched off: what the server and the local
            # store cost by themselves, so the rest is what the round trips cost.
            queue_logs(push_home, make_handles(n, ctx.seed + 34, prefix="zl"), actor, operator)
            proxy.set_latency(0.0)
            try:
                zero, _ = timed(lambda: engine._push(SyncReport(), timedelta(0), header))
            finally:
                proxy.set_latency(ONE_WAY_LATENCY)
        finally:
            ledger.close()
        with psycopg.connect(ctx.db.dsn("p3")) as conn:
            in_cloud = conn.execute("SELECT count(*) FROM outreach_logs").fetchone()
        assert in_cloud is not None and in_cloud[0] == 2 * n
        transfer = transfer_time(plain, proxy, targets, actor, operator)
        in_p3 = plain + "?options=" + quote("-csearch_path=p3")
        landing = landing_time(in_p3, proxy, targets, actor, operator)
        floor = rtt + landing
        queue_logs(seed_home, sample, actor, operator)
        seed_seconds, seed_count = push_like_the_seed(
            seed_home / "local_data.db",
            f"postgresql://{ctx.db.user}@127.0.0.1:{proxy.port}/{ctx.db.name}"
            "?options=-csearch_path%3Dp3seed",
        )
    seed_total = seed_seconds / seed_count * n
    details: dict[str, Any] = {
        "logs": n,
        "rtt_seconds": round(rtt, 4),
        "landing_seconds": round(landing, 4),
        "transfer_seconds": round(transfer, 4),
        # Against the wire alone (the floor of earlier runs: rows into a table with no
        # index or key), for comparison.
        "ratio_to_rtt_plus_transfer": ratio(seconds, rtt + transfer),
        "same_push_at_zero_latency_seconds": round(zero, 3),
        "round_trip_waits_seconds": round(seconds - zero, 3),
        "round_trip_waits_in_rtt": round((seconds - zero) / rtt, 1),
        "round_trips_counted": trips.total,
        "statements": trips.statements,
        "commits": trips.commits,
        "bytes_up": after["bytes_up"] - before["bytes_up"],
        "bytes_down": after["bytes_down"] - before["bytes_down"],
        "connections_opened": after["connections"] - before["connections"],
        "log_batch": engine.log_batch,
    }
    push_ratio = ratio(seconds, floor)
    return [
        Figure(
            "P3",
            f"push {n:,} queued logs over a 50 ms round trip",
            seconds,
            "s",
            "floor: 1 RTT + COPY of the same leads and DMs into tables shaped like the "
            "cloud's (indexes, the seed's foreign keys; no DM Ledger trigger), 0 latency",
            floor,
            push_ratio,
            "≤ 3× floor",
            push_ratio is not None and push_ratio <= 3,
            details,
        ),
        Figure(
            "P3",
            f"push {n:,} logs: {seed_total / seconds:.0f}× faster than the seed's method",
            seconds,
            "s",
            f"seed's method: 2 autocommit statements per log (measured on {seed_count} logs, "
            f"scaled to {n:,})",
            seed_total,
            ratio(seconds, seed_total),
            "report the speed-up",
            None,
            {
                "speed_up": round(seed_total / seconds, 1),
                "seed_seconds_per_log": round(seed_seconds / seed_count, 4),
            },
        ),
    ]


def _push_rows(targets: list[str], actor: str, operator: str) -> list[tuple[Any, ...]]:
    """The rows the push writes, fresh ids: (client_log_id, target, actor, operator,
    message, sent_at)."""
    return [
        (
            str(uuid.uuid4()),
            handle,
            actor,
            operator,
            MESSAGE.format(handle),
            EPOCH + timedelta(days=220, seconds=i),
        )
        for i, handle in enumerate(targets)
    ]


def transfer_time(
    dsn: str, proxy: ProxyProcess, targets: list[str], actor: str, operator: str
) -> float:
    """Seconds to move the same rows to the server with no latency: one COPY into a
    temporary table without a constraint or an index (latency switched off meanwhile).
    The wire's share of the floor, reported beside it."""
    rows = _push_rows(targets, actor, operator)
    proxy.set_latency(0.0)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TEMP TABLE moved (client_log_id text, target text, actor text,"
                " operator text, message text, sent_at timestamp)"
            )
            timings = []
            for _ in range(3):
                conn.execute("TRUNCATE moved")
                started = time.perf_counter()
                with conn.cursor().copy("COPY moved FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                timings.append(time.perf_counter() - started)
    finally:
        proxy.set_latency(ONE_WAY_LATENCY)
    return min(timings)


def landing_time(
    dsn: str, proxy: ProxyProcess, targets: list[str], actor: str, operator: str
) -> float:
    """Seconds to land the same rows where the push lands them, with no latency: one
    transaction that COPYs the new leads and their DMs into tables shaped like the
    cloud's ``prospects`` and ``outreach_logs`` (same columns, indexes and the seed
    schema's foreign keys, to the real actors and operators) without DM Ledger's
    triggers. ``dsn`` names the schema of an initialised cloud."""
    rows = _push_rows(targets, actor, operator)
    proxy.set_latency(0.0)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for table in ("prospects", "outreach_logs"):
                conn.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
            # The seed's foreign keys, as the cloud has them; the DMs' to the leads'
            # copy. (LIKE copies neither foreign keys nor triggers.)
            keys = conn.execute(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE contype = 'f' AND conrelid IN"
                " ('prospects'::regclass, 'outreach_logs'::regclass) ORDER BY conname"
            ).fetchall()
            for table, definition in keys:
                definition = definition.replace(
                    "REFERENCES prospects(", "REFERENCES floor_prospects("
                )
                conn.execute(f"ALTER TABLE floor_{table} ADD {definition}")
            timings = []
            for _ in range(3):
                conn.execute("TRUNCATE floor_outreach_logs, floor_prospects")
                started = time.perf_counter()
                with conn.transaction():
                    cursor = conn.cursor()
                    with cursor.copy(
                        "COPY floor_prospects (target_username, status, owner_actor,"
                        " first_contacted, last_dm_at, dm_count, last_message) FROM STDIN"
                    ) as copy:
                        for _key, target, who, _op, text, sent in rows:
                            copy.write_row((target, "contacted", who, sent, sent, 1, text))
                    with cursor.copy(
                        "COPY floor_outreach_logs (client_log_id, target_username,"
                        " actor_username, operator_name, message_text, created_at) FROM STDIN"
                    ) as copy:
                        for row in rows:
                            copy.write_row(row)
                timings.append(time.perf_counter() - started)
            conn.execute("DROP TABLE floor_outreach_logs, floor_prospects")
    finally:
        proxy.set_latency(ONE_WAY_LATENCY)
    return min(timings)


# -- P8 ------------------------------------------------------------------------------


def foreign_bulk_insert(ctx: RunContext) -> list[Figure]:
    """P8: another tool inserts many leads in one statement, with our triggers vs into
    the same table without them (same columns, keys, defaults and foreign key)."""
    n = max(1000, ctx.sizes.leads // 10)
    ctx.db.create_schema("p8")
    init_cloud(ctx.db.cloud_url("p8"))
    insert = (
        "INSERT INTO {table} (target_username, status, notes) "
        "SELECT 'bulk.' || g, 'new', 'imported by another tool' "
        "FROM generate_series(1, %s) g"
    )
    with psycopg.connect(ctx.db.dsn("p8"), autocommit=True) as conn:
        conn.execute("CREATE TABLE plain_prospects (LIKE prospects INCLUDING ALL)")
        conn.execute("ALTER TABLE plain_prospects ADD FOREIGN KEY (owner_actor) REFERENCES actors")

        def once(table: str) -> float:
            conn.execute(f"TRUNCATE {table}, prospect_tombstones CASCADE")
            started = time.perf_counter()
            conn.execute(insert.format(table=table), (n,))
            return time.perf_counter() - started

        ours, plain = [], []
        for _ in range(3):
            plain.append(once("plain_prospects"))
            ours.append(once("prospects"))
        stamped = conn.execute(
            "SELECT count(DISTINCT row_version), count(*) FROM prospects"
        ).fetchone()
    assert stamped is not None and stamped[1] == n
    value, baseline = median(ours), median(plain)
    figure_ratio = ratio(value, baseline)
    return [
        Figure(
            "P8",
            f"a foreign tool inserts {n:,} leads in one statement",
            value,
            "s",
            "the same insert into the same table without our triggers",
            baseline,
            figure_ratio,
            "≤ 3× baseline",
            figure_ratio is not None and figure_ratio <= 3,
            {"rows": n, "versions_stamped": stamped[0], "samples": len(ours)},
        )
    ]


# -- P9 ------------------------------------------------------------------------------


def writers_and_a_long_transaction(ctx: RunContext) -> list[Figure]:
    """P9: 7 agents push DMs at once while a SQL tool (the 8th writer) writes a lead and
    holds its transaction open for 10 s, vs the same pushes while it commits at once.

    An agent's push is what the gateway sends: one cloud transaction per batch of the
    people, the contacts and the logs. The pull waiting for the long transaction is
    not part of a push (see bench/README.md)."""
    agents, batches, per_batch = 7, 3, max(100, ctx.sizes.push_logs // 10)
    hold = 10.0 if ctx.sizes.label == "full" else 1.0 if ctx.sizes.label == "quick" else 0.2
    ctx.db.create_schema("p9")
    init_cloud(ctx.db.cloud_url("p9"))
    load_people(ctx.db.dsn("p9"))
    store = cloud_store_for(ctx.db.cloud_url("p9"))
    actors = list(ACTORS[:agents])

    def push_as(agent: int, run: str) -> float:
        actor = actors[agent % len(actors)]
        started = time.perf_counter()
        for b in range(batches):
            logs = [
                OutgoingLog(
                    str(uuid.uuid4()),
                    f"p9.{run}.{agent}.{b}.{i}",
                    actor,
                    actor_owner(actor),
                    MESSAGE.format(i),
                    EPOCH + timedelta(days=200, seconds=i),
                )
                for i in range(per_batch)
            ]
            with store.transaction() as conn:
                store.push_logs(conn, logs)
        return time.perf_counter() - started

    def scenario(run: str, hold_for: float) -> float:
        tool_ready = threading.Event()

        def tool() -> None:
            with psycopg.connect(ctx.db.dsn("p9")) as conn:
                conn.execute(
                    "INSERT INTO prospects (target_username) VALUES (%s)", (f"tool.{run}",)
                )
                tool_ready.set()
                time.sleep(hold_for)
                conn.commit()

        holder = threading.Thread(target=tool)
        holder.start()
        tool_ready.wait(30)
        with ThreadPoolExecutor(agents) as pool:
            started = time.perf_counter()
            durations = list(pool.map(lambda a: push_as(a, run), range(agents)))
            wall = time.perf_counter() - started
        holder.join()
        return max(max(durations), wall)

    try:
        scenario("warm", 0.0)
        quick = median([scenario(f"q{i}", 0.0) for i in range(3)])
        held = median([scenario(f"h{i}", hold) for i in range(3)])
    finally:
        store.dispose()
    figure_ratio = ratio(held, quick)
    return [
        Figure(
            "P9",
            f"{agents} agents push {batches}×{per_batch} DMs each while a SQL tool holds a "
            f"write transaction open {hold:.0f} s",
            held,
            "s",
            "the same pushes while the SQL tool commits at once",
            quick,
            figure_ratio,
            "≤ 1.2× baseline",
            figure_ratio is not None and figure_ratio <= 1.2,
            {"agents": agents, "dms_per_agent": batches * per_batch, "hold_seconds": hold},
        )
    ]
