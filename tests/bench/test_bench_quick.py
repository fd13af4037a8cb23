"""The benchmark and soak harnesses run end to end at tiny sizes.

Nothing here judges a time (speed belongs in ``make bench``): these tests only prove
that the code behind ``make bench`` and ``make soak`` works, writes a complete results
file, and that the soak's checker reports no loss, and can see one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Only subprocesses here: under pytest the repository root is not on sys.path, so the
# ``bench`` package is not importable (and ``tests/bench`` would shadow it).
REPO = Path(__file__).resolve().parents[2]
FIGURE_KEYS = {"id", "name", "value", "unit", "baseline", "baseline_value", "ratio", "target"}


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.postgres
def test_bench_smoke_run_measures_every_figure_and_writes_results(
    pg_database: str, tmp_path: Path
) -> None:
    # pg_database only brings the suite's skip-or-fail rule for a missing server; the
    # benchmark creates and drops a database of its own.
    out = tmp_path / "results.json"
    done = _run("bench.run", "--smoke", "--out", str(out))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    for key in ("cores", "memory_mb", "python", "postgresql", "sqlite", "date"):
        assert results["machine"][key], key
    figures = results["figures"]
    assert {f["id"] for f in figures} == {
        "P1",
        "P2",
        "P3",
        "P4",
        "P5",
        "P6",
        "P7",
        "P8",
        "P9",
        "P10",
        "P11",
        "P13",
    }
    for figure in figures:
        assert FIGURE_KEYS | {"pass"} <= figure.keys()
        assert isinstance(figure["value"], float | int), figure  # measured, not skipped


@pytest.mark.postgres
def test_soak_smoke_loses_nothing_under_kills_cuts_and_an_offline_spell(
    pg_database: str, tmp_path: Path
) -> None:
    summary_path = tmp_path / "soak.json"
    done = _run(
        "bench.soak",
        "--minutes", "0.34", "--agents", "2", "--kill-every", "7", "--cut-rate", "0.3",
        "--json", str(summary_path),
    )  # fmt: skip
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert summary["logs_created"] > 0
    assert summary["logs_in_cloud"] == summary["logs_created"]
    assert (summary["missing"], summary["duplicates"]) == (0, 0)
    assert all(summary["caches_equal_cloud"].values())
    # The faults really happened, and the checker sees a loss when there is one.
    assert summary["kills"] >= 1
    assert summary["faults_injected"]["connection_cuts"] >= 1
    assert summary["self_test"] == "yes"
