"""Times in CLI tables are local and short; ``--json`` keeps ISO 8601 UTC."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cli_support import Cli, initialised, refused, run_script

from dmledger.domain.timeutil import human_time


@pytest.fixture
def lisbon_summer() -> Iterator[None]:
    """This process in a fixed time zone two hours ahead of UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "XXX-02"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_human_time_is_local_short_and_has_the_year_only_when_it_differs() -> None:
    plus_two = timezone(timedelta(hours=2))
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert human_time("2026-11-07T09:24:55.000000Z", tz=plus_two, now=now) == "Nov 7, 11:24"
    assert human_time(datetime(2025, 11, 7, 23, 30), tz=plus_two, now=now) == "Nov 8 2025, 01:30"
    assert human_time(None) == ""


def test_tables_show_local_times_that_fit_in_80_columns(home: Path, lisbon_summer: None) -> None:
    team: Cli = initialised(home)
    this_year = datetime.now(UTC).year
    at = f"{this_year}-01-07T09:24:55Z"
    team.ok("log", "--to", "a.fairly.long.handle_name", "--message", "hi", "--at", at)
    team.ok("prospect", "set", "a.fairly.long.handle_name", "--notes", "n " * 60)
    # A real process: Rich reads the terminal width when the CLI starts.
    listed = run_script(
        "--home", str(home), "prospect", "list", env={"COLUMNS": "80", "TZ": "XXX-02"}
    )
    assert listed.returncode == 0, listed.stderr
    assert "Jan 7, 11:24" in listed.stdout
    assert "a.fairly.long.handle_name" in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80, listed.stdout
    shown = team.ok("prospect", "show", "a.fairly.long.handle_name", "--local").stdout
    assert "on Jan 7, 11:24" in shown and "T09:24" not in shown
    as_json = json.loads(team.ok("--json", "prospect", "list").stdout)
    assert as_json[0]["first_contacted"] == f"{this_year}-01-07T09:24:55.000000Z"


# Times no DM of this tool can have: outside the calendar once in UTC, or before 2010.
BAD_EVENT_TIMES = [
    ("0001-01-01T00:00:00+14:00", "out of range once converted to UTC"),
    ("9999-12-31T23:00:00-05:00", "out of range once converted to UTC"),
    ("1653-01-01T00:00:00Z", "is before 2010-01-01"),
    ("2009-12-31T23:59:59Z", "is before 2010-01-01"),
]


@pytest.mark.parametrize(("at", "rule"), BAD_EVENT_TIMES)
def test_log_and_reply_refuse_an_event_time_out_of_range_naming_it(
    home: Path, at: str, rule: str
) -> None:
    team: Cli = initialised(home)
    logged = team("log", "--to", "early.lead", "--message", "hi", "--at", at)
    refused(logged, 1, rule, at[:4])
    replied = team("reply", "early.lead", "--at", at)
    refused(replied, 1, rule, at[:4])
    assert json.loads(team.ok("--json", "prospect", "list").stdout) == []


def test_import_logs_reports_each_time_out_of_range_and_imports_the_other_rows(
    home: Path, tmp_path: Path
) -> None:
    team: Cli = initialised(home)
    rows = "".join(
        f"lead.{n},hi,{at},sarah.sells\n" for n, (at, _rule) in enumerate(BAD_EVENT_TIMES)
    )
    history = tmp_path / "history.csv"
    history.write_text(
        f"handle,message,sent_at,actor\n{rows}good.lead,fine,2024-05-01T10:00:00Z,sarah.sells\n",
        encoding="utf-8",
    )
    report = json.loads(team.ok("--json", "import-logs", str(history)).stdout)
    assert (report["rows"], report["added"]) == (len(BAD_EVENT_TIMES) + 1, 1)
    reasons = {item["line"]: item["reason"] for item in report["invalid"]}
    for line, (at, rule) in enumerate(BAD_EVENT_TIMES, start=2):
        assert rule in reasons[line] and at[:4] in reasons[line], reasons
    assert [p["handle"] for p in json.loads(team.ok("--json", "prospect", "list").stdout)] == [
        "good.lead"
    ]
