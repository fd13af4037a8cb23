"""``make bench [QUICK=1]``: every figure of the benchmark suite, written to
``bench/results.json`` and printed as a table.

    python -m bench.run            # full sizes (a million leads), ~10 minutes
    python -m bench.run --quick    # a tenth of the sizes, under 90 s
    python -m bench.run --smoke    # tiny sizes: only checks that the code runs (make test)

PostgreSQL is the local server (``DMLEDGER_BENCH_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``); each run creates a fresh database
and drops it at the end. SQLite files live in a temporary folder, removed at the end.
Exit status: 0 when every figure was measured (missed targets included), 1 when a
figure could not be measured.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import (
    figures_extension,
    figures_local,
    figures_repair,
    figures_sync,
    figures_team,
    figures_today,
)
from bench.context import RunContext
from bench.data import init_cloud, load_leads, load_people, make_handles
from bench.harness import (
    BenchDatabase,
    Figure,
    Sizes,
    admin_url,
    fmt,
    machine,
    stage,
    write_results,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
# Wide enough for the table when the output is a file or a pipe (make bench | tee).
console = Console(highlight=False, width=max(Console().width, 150))

# In this order: P2's pulled cache is what P4, P6, P1 and P10 read; P4 changes the cloud.
STEPS: tuple[tuple[str, str, Callable[[RunContext], list[Figure]]], ...] = (
    ("P2", "initial pull", figures_sync.initial_pull),
    ("P4", "no-op and incremental sync", figures_sync.sync_round_trips),
    ("P6", "Leads page", figures_local.leads_page),
    ("P1", "status check through the JSON API", figures_local.api_figures),
    ("P5", "CSV import", figures_local.csv_import),
    ("P3", "push over the proxy", figures_sync.push),
    ("P8", "a foreign tool's bulk insert", figures_sync.foreign_bulk_insert),
    ("P9", "writers beside a long transaction", figures_sync.writers_and_a_long_transaction),
    ("P7", "Team queries", figures_team.team_queries),
    ("P10", "extension card in the Instagram tab", figures_extension.card_in_the_tab),
    ("P11", "Today: dmledger today --json and the Today page", figures_today.today_figures),
    # Last: it queues DMs in P2's cache home and replaces its store.
    ("P13", "a damaged store: backups, the quick check and repair", figures_repair.repair_figures),
)
NEEDS: dict[str, Callable[[], str | None]] = {
    "P1": figures_local.web_available,
    "P7": figures_team.team_available,
    "P10": figures_extension.extension_available,
    "P11": figures_local.web_available,
}


def log(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


def run(sizes: Sizes, out: Path, only: set[str] | None) -> int:
    admin = admin_url()
    info = machine(admin)
    load = info["load_average_at_start"][0]
    if info["cores"] and load > info["cores"] * 0.5:
        info["note"] = (
            f"the machine was busy at the start (load {load:.1f} on {info['cores']} cores): "
            "figures are noisier than usual"
        )
        log(f"[yellow]{info['note']}[/]")
    figures: list[Figure] = []
    failures = 0
    started = time.perf_counter()
    with (
        BenchDatabase(admin) as db,
        tempfile.TemporaryDirectory(prefix="dmledger-bench-") as tmp,
    ):
        ctx = RunContext(sizes=sizes, db=db, tmp=Path(tmp), log=log)
        # P2's pulled cache is what P1, P4, P6, P10 and P11 read.
        needed = {"P2"} if only is None or only & {"P1", "P4", "P6", "P10", "P11", "P13"} else set()
        with stage(f"seeding the cloud with {sizes.leads:,} leads", log):
            ctx.handles = make_handles(sizes.leads, ctx.seed)
            init_cloud(db.cloud_url())
            load_people(db.dsn())
            ctx.top_version = load_leads(db.dsn(), ctx.handles, ctx.seed + 1)
        for figure_id, title, step in STEPS:
            if only is not None and figure_id not in only and figure_id not in needed:
                continue
            missing = NEEDS.get(figure_id, lambda: None)()
            if missing is not None:
                log(f"[yellow]{figure_id} skipped[/]: {missing}")
                figures.append(
                    Figure(
                        figure_id, f"{title}: not measured", None, "", details={"skipped": missing}
                    )
                )
                continue
            try:
                with stage(f"{figure_id} {title}", log):
                    figures.extend(step(ctx))
            except Exception as error:
                failures += 1
                log(f"[red]{figure_id} failed[/]: {error}")
                traceback.print_exc()
                failed = {"error": f"{type(error).__name__}: {error}"}
                figures.append(
                    Figure(figure_id, f"{title}: failed", None, "", passed=False, details=failed)
                )
    info["seconds"] = round(time.perf_counter() - started, 1)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    info["notes"] = ctx.notes
    write_results(out, figures, info, sizes)
    print_table(figures, info, sizes)
    log(f"results written to {out}")
    return 1 if failures else 0


def print_table(figures: list[Figure], info: dict[str, object], sizes: Sizes) -> None:
    table = Table(title=f"DM Ledger benchmarks ({sizes.label} sizes)")
    for column in ("id", "figure", "value", "baseline", "ratio", "target", "pass"):
        table.add_column(column, overflow="fold")
    for f in figures:
        baseline = "" if f.baseline is None else f"{f.baseline}: {fmt(f.baseline_value, f.unit)}"
        verdict = {True: "[green]yes[/]", False: "[red]NO[/]", None: "—"}[f.passed]
        table.add_row(
            f.id,
            f.name,
            fmt(f.value, f.unit) if f.value is not None else "—",
            baseline,
            "" if f.ratio is None else f"{f.ratio:.3g}",
            f.target,
            verdict,
        )
    console.print(table)
    console.print(
        f"machine: {info['cores']} cores, {info['memory_mb']} MB, Python {info['python']}, "
        f"PostgreSQL {info['postgresql']}, SQLite {info['sqlite']}, {info['date']}, "
        f"load {info['load_average_at_start']} → {info['load_average_at_end']}, "
        f"{info['seconds']} s"
    )


def markdown(path: Path) -> str:
    """The results file as a Markdown table (for bench/README.md)."""
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    lines = [
        "| id | figure | value | baseline | ratio | target | pass |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in data["figures"]:
        unit = f["unit"]
        baseline = (
            "" if f["baseline"] is None else f"{f['baseline']}: {fmt(f['baseline_value'], unit)}"
        )
        verdict = {True: "yes", False: "**no**", None: "—"}[f["pass"]]
        ratio = "" if f["ratio"] is None else f"{f['ratio']:.3g}"
        value = fmt(f["value"], unit) if f["value"] is not None else "—"
        cells = (f["id"], f["name"], value, baseline, ratio, f["target"], verdict)
        lines.append("| " + " | ".join(cells) + " |")
    m = data["machine"]
    lines.append("")
    lines.append(
        f"Machine: {m['cores']} cores, {m['memory_mb']} MB, Python {m['python']}, PostgreSQL "
        f"{m['postgresql']}, SQLite {m['sqlite']}; {m['date']}; load average "
        f"{m['load_average_at_start']} at the start, {m['load_average_at_end']} at the end; "
        f"{m['seconds']} s in all."
    )
    if m.get("note"):
        lines.append(f"Note: {m['note']}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a tenth of the full sizes")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, only to check it runs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file")
    parser.add_argument(
        "--only", help="comma-separated figure ids, e.g. P3,P7 (P1, P4, P6, P10 bring P2 along)"
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="RESULTS", help="print a results file as Markdown; no run"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        console.print(markdown(args.markdown), markup=False, soft_wrap=True)
        return
    sizes = Sizes.named("smoke" if args.smoke else "quick" if args.quick else "full")
    only = {x.strip().upper() for x in args.only.split(",")} if args.only else None
    raise SystemExit(run(sizes, args.out, only))


if __name__ == "__main__":
    main()
