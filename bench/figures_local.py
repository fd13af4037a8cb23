"""Local figures: the status check through the JSON API (P1), the CSV import (P5) and
the Leads page (P6), all against a cache of every cloud lead."""

from __future__ import annotations

import contextlib
import csv
import random
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.context import REPO, RunContext, new_home
from bench.data import ACTORS, SYLLABLES, make_handles
from bench.harness import Figure, percentile, ratio
from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.local.store import ProspectFilter

# -- P5 ------------------------------------------------------------------------------


def write_import_csv(path: Path, rows: int, seed: int) -> dict[str, int]:
    """A CSV the way people export them: handles as @Name, URLs and plain names, with
    duplicates (in another spelling) and a few invalid lines. Returns the mix."""
    rng = random.Random(seed)
    distinct = make_handles(int(rows * 0.95), seed, prefix="imp")
    mix = {"plain": 0, "at": 0, "url": 0, "bare_url": 0, "duplicate": 0, "invalid": 0}
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["handle", "source"])
        for i in range(rows):
            roll = rng.random()
            if roll < 0.02:
                kind, value = "invalid", rng.choice(("not a handle!", "a..b", "x" * 31, "é"))
            elif roll < 0.07 and i > 0:
                kind, value = "duplicate", "@" + distinct[rng.randrange(min(i, len(distinct)))]
            else:
                name = distinct[i % len(distinct)]
                kind = rng.choices(("plain", "at", "url", "bare_url"), (55, 20, 20, 5))[0]
                value = {
                    "plain": name,
                    "at": "@" + name.capitalize(),
                    "url": f"https://www.instagram.com/{name}/?igsh=MWx0{i:x}",
                    "bare_url": f"instagram.com/{name}",
                }[kind]
            mix[kind] += 1
            writer.writerow([value, rng.choice(("event", "ads", "referral", "scrape-list"))])
    return mix


def import_floor(path: Path, db_path: Path) -> float:
    """Read the CSV and insert its first column with one executemany, one transaction."""
    started = time.perf_counter()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR IGNORE INTO prospects (target_username, status) VALUES (?, 'new')",
            ((row[0],) for row in reader),
        )
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


def csv_import(ctx: RunContext) -> list[Figure]:
    """P5: Ledger.csv.import_prospects vs reading the CSV plus one executemany."""
    path = ctx.tmp / "import.csv"
    mix = write_import_csv(path, ctx.sizes.csv_rows, ctx.seed + 5)
    url = f"sqlite:///{ctx.tmp / 'p5_cloud.db'}"
    floor_home = new_home(ctx.tmp / "p5_floor", url)
    import_home = new_home(ctx.tmp / "p5_import", url)
    floor = import_floor(path, floor_home / "local_data.db")
    ctx.log(f"P5 floor: {floor:.1f} s")
    ledger = Ledger.open(import_home)
    try:
        started = time.perf_counter()
        report = ledger.csv.import_prospects(path)
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    ctx.log(f"P5 import: {seconds:.1f} s ({report.added:,} added)")
    import_ratio = ratio(seconds, floor)
    return [
        Figure(
            "P5",
            f"CSV import of {ctx.sizes.csv_rows:,} handles (normalise, validate, dedupe)",
            seconds,
            "s",
            "read the CSV + one SQLite executemany",
            floor,
            import_ratio,
            "≤ 2× baseline",
            import_ratio is not None and import_ratio <= 2,
            {
                "added": report.added,
                "duplicates_in_file": report.duplicates_in_file,
                "invalid": len(report.invalid),
                "mix": mix,
                "rows_per_second": round(ctx.sizes.csv_rows / seconds),
            },
        )
    ]


# -- P6 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageQuery:
    kind: str
    where: ProspectFilter
    pages: int  # the first page and then this many more, following the keyset cursor


def leads_queries(count: int, seed: int, handles: list[str]) -> list[PageQuery]:
    """What people do on the Leads page: filter, search, both, and page on."""
    rng = random.Random(seed)
    statuses = ("contacted", "warm", "hot", "booked", "new", "cold")
    found: list[PageQuery] = []
    while len(found) < count:
        roll = rng.randrange(6)
        pages = rng.choice((0, 0, 1, 2))
        if roll == 0:
            query = PageQuery("status", ProspectFilter(status=rng.choice(statuses)), pages)
        elif roll == 1:
            query = PageQuery(
                "owner+status",
                ProspectFilter(owner_actor=rng.choice(ACTORS), status=rng.choice(statuses[:4])),
                pages,
            )
        elif roll == 2:
            query = PageQuery("search", ProspectFilter(search=rng.choice(SYLLABLES[-14:])), pages)
        elif roll == 3:
            handle = rng.choice(handles)
            start = rng.randrange(max(1, len(handle) - 4))
            query = PageQuery(
                "search+status",
                ProspectFilter(search=handle[start : start + 4], status=rng.choice(statuses)),
                pages,
            )
        elif roll == 4:
            query = PageQuery(
                "search 2 chars", ProspectFilter(search=rng.choice(SYLLABLES[:28])), pages
            )
        else:
            month = rng.randrange(1, 6)
            query = PageQuery(
                "dates+status",
                ProspectFilter(
                    status=rng.choice(statuses[:4]),
                    contacted_from=datetime(2026, month, 1),
                    contacted_to=datetime(2026, month + 1, 1),
                ),
                pages,
            )
        found.append(query)
    return found


def leads_page(ctx: RunContext) -> list[Figure]:
    """P6: Ledger.list_prospects, page of 500, over the cache of every lead."""
    assert ctx.cache_home is not None
    queries = leads_queries(ctx.sizes.page_queries, ctx.seed + 6, ctx.handles)
    ledger = Ledger.open(ctx.cache_home)
    timings: list[float] = []
    by_kind: dict[str, list[float]] = {}
    try:
        for query in queries[:5]:  # warm the page cache
            ledger.list_prospects(query.where, limit=500)
        for query in queries:
            after = None
            for _ in range(query.pages + 1):
                started = time.perf_counter()
                page = ledger.list_prospects(query.where, after=after, limit=500)
                seconds = time.perf_counter() - started
                timings.append(seconds)
                by_kind.setdefault(query.kind, []).append(seconds)
                if len(page) < 500:
                    break
                after = page[-1].handle
    finally:
        ledger.close()
    p95 = percentile(timings, 0.95)
    return [
        Figure(
            "P6",
            f"Leads page (Ledger.list_prospects, 500 rows) with {len(ctx.handles):,} leads: p95",
            p95 * 1000,
            "ms",
            None,
            None,
            None,
            "p95 ≤ 50 ms",
            p95 <= 0.050,
            {
                "queries": len(timings),
                "p50_ms": round(percentile(timings, 0.5) * 1000, 2),
                "max_ms": round(max(timings) * 1000, 2),
                "p95_ms_by_kind": {
                    k: round(percentile(v, 0.95) * 1000, 2) for k, v in sorted(by_kind.items())
                },
            },
        )
    ]


# -- P1 (and P6 through HTTP) -----------------------------------------------------------


def web_available() -> str | None:
    """None when the web app can be built here, else why not."""
    try:
        from dmledger.web.app import create_app  # noqa: F401
    except Exception as error:  # the web layer is optional for the other figures
        return f"{type(error).__name__}: {error}"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(kind: str, home: Path | None) -> Iterator[str]:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.web_server", kind, str(home or "-"), str(port)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(base + "/api/v1/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if child.poll() is not None or time.monotonic() > deadline:
                    error = child.stderr.read() if child.stderr else ""
                    raise RuntimeError(f"{kind} server did not start: {error[-3000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stderr is not None:
            child.stderr.close()


def _get(client: httpx.Client, path: str, expect: int = 200) -> float:
    started = time.perf_counter()
    response = client.get(path)
    seconds = time.perf_counter() - started
    if response.status_code != expect:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return seconds


def api_figures(ctx: RunContext) -> list[Figure]:
    """P1 (status check vs a bare route) and P6 through the JSON API."""
    assert ctx.cache_home is not None
    token = config.api_token(ctx.cache_home)
    rng = random.Random(ctx.seed + 1)
    n = ctx.sizes.requests
    headers = {"Authorization": f"Bearer {token}"}
    with (
        _server("app", ctx.cache_home) as app_base,
        _server("bare", None) as bare_base,
        httpx.Client(base_url=app_base, headers=headers, timeout=30) as app,
        httpx.Client(base_url=bare_base, headers=headers, timeout=30) as bare,
    ):
        for _ in range(50):  # warm both: connections, caches, the first-request costs
            handle = rng.choice(ctx.handles)
            _get(app, "/api/v1/prospects/" + quote(handle, safe=""))
            _get(bare, "/api/v1/prospects/" + quote(handle, safe=""))
        ours: list[float] = []
        baseline: list[float] = []
        for _ in range(n):  # interleaved, so load from elsewhere hits both alike
            path = "/api/v1/prospects/" + quote(rng.choice(ctx.handles), safe="")
            ours.append(_get(app, path))
            baseline.append(_get(bare, path))
        page_timings: list[float] = []
        for query in leads_queries(ctx.sizes.page_queries // 2, ctx.seed + 16, ctx.handles):
            params = {"limit": "500"}
            w = query.where
            for key, value in (
                ("status", w.status),
                ("owner", w.owner_actor),
                ("search", w.search),
            ):
                if value:
                    params[key] = value
            for key, moment in (
                ("contacted_from", w.contacted_from),
                ("contacted_to", w.contacted_to),
            ):
                if moment is not None:
                    params[key] = moment.isoformat()
            started = time.perf_counter()
            response = app.get("/api/v1/prospects", params=params)
            page_timings.append(time.perf_counter() - started)
            response.raise_for_status()
    p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
    b50, b99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
    p50_ratio = ratio(p50, b50)
    api_p95 = percentile(page_timings, 0.95)
    common: dict[str, Any] = {"requests": n, "baseline_p99_ms": round(b99 * 1000, 3)}
    return [
        Figure(
            "P1",
            f"status check via the JSON API, {len(ctx.handles):,} leads cached: p50",
            p50 * 1000,
            "ms",
            "bare FastAPI route returning a constant (same uvicorn settings): p50",
            b50 * 1000,
            p50_ratio,
            "p50 ≤ 1.5× baseline",
            p50_ratio is not None and p50_ratio <= 1.5,
            common,
        ),
        Figure(
            "P1",
            "status check via the JSON API: p99",
            p99 * 1000,
            "ms",
            "bare route: p99",
            b99 * 1000,
            ratio(p99, b99),
            "p99 ≤ 10 ms",
            p99 <= 0.010,
            common,
        ),
        Figure(
            "P6",
            "Leads page through the JSON API (GET /api/v1/prospects, limit 500): p95",
            api_p95 * 1000,
            "ms",
            None,
            None,
            None,
            "p95 ≤ 50 ms",
            api_p95 <= 0.050,
            {
                "requests": len(page_timings),
                "p50_ms": round(percentile(page_timings, 0.5) * 1000, 2),
                "note": "client-measured: includes JSON encoding of 500 rows and loopback",
            },
        ),
    ]
