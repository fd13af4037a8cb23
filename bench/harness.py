"""What every benchmark shares: sizes, figures, timing, the machine record, a fresh
PostgreSQL database per run, and the results file.

Benchmarks compare each figure with a baseline measured in the same run, because
these machines are noisy: the ratio is what we judge, the absolute time is context.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

ADMIN_URL_ENV = "DMLEDGER_BENCH_PG_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ONE_WAY_LATENCY = 0.025  # seconds each way through the proxy: a 50 ms round trip


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is. Full sizes are the issue's; QUICK is a tenth."""

    label: str
    leads: int  # prospects in the cloud and in the cache (P1, P2, P4, P6)
    push_logs: int  # queued DMs pushed over the proxy (P3)
    seed_sample: int  # DMs pushed the seed's way; extrapolated to push_logs
    changes: int  # changed leads pulled incrementally (P4)
    csv_rows: int  # handles in the imported CSV (P5)
    team_logs: int  # outreach logs in the cloud for the team queries (P7)
    requests: int  # HTTP requests per measured route (P1)
    page_queries: int  # Leads page queries (P6)
    repeats: int  # repetitions of the short sync figures (P4)

    @staticmethod
    def named(label: str) -> Sizes:
        if label == "full":
            return Sizes("full", 1_000_000, 10_000, 200, 100, 1_000_000, 1_000_000, 2000, 300, 7)
        if label == "quick":
            return Sizes("quick", 100_000, 1_000, 40, 100, 100_000, 100_000, 600, 120, 5)
        if label == "smoke":
            return Sizes("smoke", 2_000, 200, 6, 20, 2_000, 2_000, 60, 30, 2)
        raise ValueError(f"unknown size {label!r}")


@dataclass
class Figure:
    """One measured figure, as written to ``results.json``."""

    id: str
    name: str
    value: float | None  # None: not measured (skipped or failed; see details)
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None  # None: reported, no target to pass
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("passed")
        return data


def ratio(value: float, baseline: float) -> float | None:
    return None if baseline <= 0 else value / baseline


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (fraction in 0..1) of the samples."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` and its result."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


# -- the machine ---------------------------------------------------------------------


def memory_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


def machine(admin_url: str) -> dict[str, Any]:
    """Cores, memory, versions, date and load: the context every figure is read in."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    load = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "memory_mb": memory_mb(),
        "python": platform.python_version(),
        "postgresql": row[0] if row else None,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in load],
    }


# -- PostgreSQL ----------------------------------------------------------------------


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


class BenchDatabase:
    """A fresh PostgreSQL database, created on enter and dropped (forcibly) on exit."""

    def __init__(self, admin: str, prefix: str = "dmledger_bench") -> None:
        self.admin = admin
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        info = psycopg.conninfo.conninfo_to_dict(admin)
        self.host = str(info.get("host") or "127.0.0.1")
        self.port = int(info.get("port") or 5432)
        self.user = str(info.get("user") or "postgres")

    def __enter__(self) -> BenchDatabase:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *_exc: object) -> None:
        self.drop()

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def dsn(self, schema: str | None = None) -> str:
        """A plain libpq URL (for psycopg), straight to the server."""
        url = f"postgresql://{self.user}@{self.host}:{self.port}/{self.name}"
        if schema:
            url += "?options=" + quote(f"-csearch_path={schema}")
        return url

    def cloud_url(self, schema: str | None = None, *, port: int | None = None) -> str:
        """A DM Ledger cloud URL, optionally through a proxy listening on ``port``."""
        host, where = ("127.0.0.1", port) if port else (self.host, self.port)
        url = f"postgresql+psycopg://{self.user}@{host}:{where}/{self.name}"
        if schema:
            url += "?options=" + quote(f"-csearch_path={schema}")
        return url

    def create_schema(self, schema: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")


# -- results -------------------------------------------------------------------------


def write_results(
    path: Path, figures: Sequence[Figure], machine_info: dict[str, Any], sizes: Sizes
) -> None:
    """Write the results file atomically (a half-written file never replaces a good one)."""
    data = {
        "sizes": asdict(sizes),
        "machine": machine_info,
        "figures": [f.to_json() for f in figures],
    }
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def fmt(value: float | None, unit: str = "") -> str:
    """A short human form of a figure's value."""
    if value is None:
        return "—"
    if unit == "s" and value < 1:
        return f"{value * 1000:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "x":
        return f"{value:.1f}×"
    return f"{value:.3g} {unit}".strip()


@contextlib.contextmanager
def stage(name: str, log: Callable[[str], None]) -> Iterator[None]:
    """Log how long a preparation or measurement stage took."""
    started = time.perf_counter()
    log(f"{name} …")
    yield
    log(f"{name}: {time.perf_counter() - started:.1f} s")
