"""Spreadsheets as people save them: encodings, ``;``, no header, binary files, limits,
and past DMs that must pass the same validation as ``log``."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from cli_support import Cli, initialised, refused

from dmledger.app.csvfile import MAX_FIELD_CHARS


@pytest.fixture
def team(home: Path) -> Cli:
    return initialised(home)


def handles(team: Cli) -> list[str]:
    return [p["handle"] for p in json.loads(team.ok("--json", "prospect", "list").stdout)]


def card(team: Cli, handle: str) -> dict[str, object]:
    shown: dict[str, object] = json.loads(team.ok("--json", "prospect", "show", handle).stdout)
    return shown


# -- item 1: encodings and delimiters ------------------------------------------------------


def test_an_excel_csv_in_cp1252_with_semicolons_imports_its_notes(
    team: Cli, tmp_path: Path
) -> None:
    leads = tmp_path / "excel.csv"
    leads.write_bytes("handle;notes\r\ncafe.owner;Café près de la gare\r\n".encode("cp1252"))
    report = json.loads(team.ok("--json", "import", str(leads)).stdout)
    assert (report["added"], report["encoding"], report["delimiter"]) == (1, "cp1252", ";")
    assert card(team, "cafe.owner")["notes"] == "Café près de la gare"


@pytest.mark.parametrize(
    ("encoding", "prefix", "delimiter"),
    [
        ("utf-8", b"", ","),
        ("utf-8", codecs.BOM_UTF8, ","),
        ("utf-16-le", codecs.BOM_UTF16_LE, "\t"),
    ],
)
def test_utf8_with_or_without_a_bom_and_utf16_with_a_bom_import(
    team: Cli, tmp_path: Path, encoding: str, prefix: bytes, delimiter: str
) -> None:
    leads = tmp_path / "leads.csv"
    text = f"handle{delimiter}notes\nzoe.cafe{delimiter}Zoë ☕ café\n"
    leads.write_bytes(prefix + text.encode(encoding))
    report = json.loads(team.ok("--json", "import", str(leads)).stdout)
    assert report["added"] == 1 and report["invalid"] == []
    assert report["delimiter"] == delimiter
    assert card(team, "zoe.cafe")["notes"] == "Zoë ☕ café"


def test_an_encoding_can_be_named(team: Cli, tmp_path: Path) -> None:
    leads = tmp_path / "latin.csv"
    leads.write_bytes("handle,notes\nnina.b,Straße\n".encode("latin-1"))
    report = json.loads(team.ok("--json", "import", str(leads), "--encoding", "latin-1").stdout)
    assert report["encoding"] == "iso8859-1"
    assert card(team, "nina.b")["notes"] == "Straße"
    refused(team("import", str(leads), "--encoding", "klingon"), 1, "encoding 'klingon'")


def test_a_binary_file_is_refused_in_one_line_and_nothing_is_imported(
    team: Cli, tmp_path: Path
) -> None:
    picture = tmp_path / "leads.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = team("import", str(picture))
    refused(result, 1, "leads.png is not a CSV file", "PNG")
    assert len(result.stderr.strip().splitlines()) == 1
    blob = tmp_path / "blob.csv"
    blob.write_bytes(b"handle\nabc\n" + b"\x00\x01\x02" * 100)
    refused(team("import", str(blob)), 1, "blob.csv is not a text file", "line 3")
    refused(team("import-logs", str(blob)), 1, "blob.csv is not a text file")
    assert handles(team) == []


def test_a_file_refused_at_its_end_leaves_nothing_half_imported(team: Cli, tmp_path: Path) -> None:
    leads = tmp_path / "long.csv"
    body = "".join(f"lead{n}\n" for n in range(12_000))  # more than two write batches
    leads.write_bytes(("handle\n" + body).encode() + b"caf\xe9\n")
    refused(
        team("import", str(leads), "--encoding", "utf-8"),
        1,
        "long.csv is not UTF-8 text (line 12002",
        "--encoding",
    )
    assert handles(team) == []


def test_a_cell_over_the_limit_is_refused_naming_its_line(team: Cli, tmp_path: Path) -> None:
    leads = tmp_path / "big.csv"
    leads.write_text(
        'handle,notes\nok.lead,fine\nbig.lead,"' + "x" * (MAX_FIELD_CHARS + 10) + '"\n',
        encoding="utf-8",
    )
    refused(team("import", str(leads)), 1, "big.csv, line 3", "131,072", "nothing was imported")
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text(
        'handle,notes\nfirst.lead,"oops\n' + "".join(f"lead{n},x\n" for n in range(20_000)),
        encoding="utf-8",
    )
    refused(team("import", str(unclosed)), 1, "unclosed.csv, line", "unclosed quote")
    refused(team("import-logs", str(unclosed)), 1, "unclosed.csv, line")
    assert handles(team) == []


def test_import_logs_reads_a_cp1252_file(team: Cli, tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_bytes(
        "handle;message;sent_at;actor\r\nold.lead;Merci, à bientôt;2024-05-01T10:00:00Z;"
        "sarah.sells\r\n".encode("cp1252")
    )
    report = json.loads(team.ok("--json", "import-logs", str(history)).stdout)
    assert (report["added"], report["encoding"]) == (1, "cp1252")
    logs = card(team, "old.lead")["recent_logs"]
    assert isinstance(logs, list) and logs[0]["message"] == "Merci, à bientôt"


# -- item 2: header or none, the columns used ----------------------------------------------


def test_a_file_of_handles_without_a_header_keeps_its_first_line(team: Cli, tmp_path: Path) -> None:
    leads = tmp_path / "plain.csv"
    leads.write_text("anna.glow\n@Ben_Fit\nhttps://www.instagram.com/cara.c/\n", encoding="utf-8")
    report = json.loads(team.ok("--json", "import", str(leads)).stdout)
    assert (report["rows"], report["added"], report["header_row"]) == (3, 3, False)
    assert report["columns_used"] == ["column 1"]
    assert handles(team) == ["anna.glow", "ben_fit", "cara.c"]
    printed = team.ok("import", str(leads)).stdout
    assert "no header row (the first row is data)" in printed
    worded = tmp_path / "worded.csv"
    worded.write_text("handles\ndan.d\n", encoding="utf-8")
    report = json.loads(team.ok("--json", "import", str(worded)).stdout)
    assert (report["header_row"], report["added"]) == (True, 1)
    assert "handles" not in handles(team)


def test_a_header_row_is_still_a_header_and_status_and_notes_are_read(
    team: Cli, tmp_path: Path
) -> None:
    leads = tmp_path / "crm.csv"
    leads.write_text(
        "Handle,Status,Notes,City\nanna.glow,Warm,met at expo,Lisbon\nben.fit,,,Porto\n"
        "bad.status,tepid,,Faro\n",
        encoding="utf-8",
    )
    report = json.loads(team.ok("--json", "import", str(leads), "--status", "cold").stdout)
    assert report["header_row"] is True
    assert report["columns_used"] == ["handle", "status", "notes"]
    assert report["ignored_columns"] == ["city"]
    assert [(i["line"], "'tepid'" in i["reason"]) for i in report["invalid"]] == [(4, True)]
    anna = card(team, "anna.glow")
    assert (anna["status"], anna["notes"]) == ("warm", "met at expo")
    assert card(team, "ben.fit")["status"] == "cold"
    printed = team.ok("import", str(leads)).stdout
    assert "columns used: handle, status, notes; ignored: city" in printed


# -- items 3 and 5: one validation for `log` and `import-logs` -----------------------------


def test_import_logs_refuses_what_log_refuses_with_the_same_reason(
    team: Cli, tmp_path: Path
) -> None:
    long_message = "y" * 25_000
    long_operator = "O" * 154
    history = tmp_path / "history.csv"
    history.write_text(
        "handle,message,sent_at,actor,operator\n"
        f"a.lead,{long_message},2024-05-01T10:00:00Z,sarah.sells,\n"
        f"b.lead,hi,2024-05-01T10:00:00Z,sarah.sells,{long_operator}\n"
        "c.lead,hi,2999-01-01T00:00:00Z,sarah.sells,\n"
        "d.lead,hi,2024-05-01T10:00:00Z,nobody.acct,\n"
        "e.lead,fine,2024-05-01T10:00:00Z,sarah.sells,\n",
        encoding="utf-8",
    )
    report = json.loads(team.ok("--json", "import-logs", str(history)).stdout)
    assert report["added"] == 1
    reasons = {item["line"]: item["reason"] for item in report["invalid"]}
    assert sorted(reasons) == [2, 3, 4, 5]

    by_log = team("log", "--to", "a.lead", "--message", long_message)
    refused(by_log, 1, reasons[2])
    assert "25000 characters" in reasons[2]
    assert "longer than 100 bytes" in reasons[3]
    by_log = team("log", "--to", "c.lead", "--message", "hi", "--at", "2999-01-01T00:00:00Z")
    refused(by_log, 1, reasons[4])
    assert "in the future" in reasons[4]
    by_log = team("log", "--to", "d.lead", "--message", "hi", "--actor", "nobody.acct")
    refused(by_log, 1, reasons[5])
    status = json.loads(team.ok("--json", "status", "--offline").stdout)
    assert status["pending_logs"] == 1


def test_a_send_time_a_little_ahead_is_clock_skew_not_the_future(team: Cli) -> None:
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    team.ok("log", "--to", "skewed.lead", "--message", "hi", "--at", soon)


def test_a_typo_in_the_account_name_is_refused_and_creates_no_account(team: Cli) -> None:
    result = team("log", "--to", "someone", "--message", "hi", "--actor", "nobody.acct")
    refused(result, 1, "'nobody.acct' is not a registered account", "sarah.sells", "actor add")
    assert handles(team) == []
    team.ok("log", "--to", "someone", "--message", "hi")  # from the registered account
    team.ok("sync")
    actors = json.loads(team.ok("--json", "actor", "list").stdout)
    assert [a["username"] for a in actors] == ["sarah.sells"]


def test_import_logs_add_actors_registers_the_accounts_it_names(team: Cli, tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text(
        "handle,message,sent_at,actor\n"
        "a.lead,hi,2024-05-01T10:00:00Z,second.acct\n"
        "b.lead,hi,2024-05-02T10:00:00Z,second.acct\n",
        encoding="utf-8",
    )
    report = json.loads(team.ok("--json", "import-logs", str(history), "--add-actors").stdout)
    assert (report["added"], report["actors_added"]) == (2, ["second.acct"])
    team.ok("log", "--to", "c.lead", "--message", "hi", "--actor", "second.acct")
    more = tmp_path / "more.csv"
    more.write_text("handle,message,sent_at,actor\nd.lead,hi,2024-05-03,third.acct\n")
    printed = team.ok("import-logs", str(more), "--add-actors").stdout
    assert "accounts registered: third.acct" in printed


def test_a_quote_left_open_to_the_end_refuses_the_file_naming_its_line(
    team: Cli, tmp_path: Path
) -> None:
    leads = tmp_path / "open.csv"
    leads.write_text('csv.q1,"never closed\ncsv.q2,x\n', encoding="utf-8")
    refused(
        team("import", str(leads)), 1, "open.csv, line 1", "never closed", "nothing was imported"
    )
    history = tmp_path / "history.csv"
    history.write_text(
        "handle,message,sent_at,actor\n"
        "a.lead,hi,2024-05-01T10:00:00Z,sarah.sells\n"
        'b.lead,"hi,2024-05-01T10:00:00Z,sarah.sells\n'
        "c.lead,hi,2024-05-02T10:00:00Z,sarah.sells\n",
        encoding="utf-8",
    )
    refused(team("import-logs", str(history)), 1, "history.csv, line 3", "never closed")
    assert handles(team) == []


def test_a_quoted_cell_swallowing_many_lines_refuses_the_file_naming_where_it_opened(
    team: Cli, tmp_path: Path
) -> None:
    rows = "".join(f"lead{n},x\n" for n in range(1_500))
    leads = tmp_path / "swallowed.csv"
    leads.write_text(
        f'handle,notes\nfirst.lead,fine\nsecond.lead,"oops\n{rows}last.lead,"\nafter.lead,x\n',
        encoding="utf-8",
    )
    refused(team("import", str(leads)), 1, "swallowed.csv, line 3", "1,502 lines", "unclosed")
    assert handles(team) == []


def test_notes_over_a_few_lines_with_quotes_inside_still_import(team: Cli, tmp_path: Path) -> None:
    leads = tmp_path / "notes.csv"
    leads.write_text(
        'handle,notes\r\nfirst.lead,"met at the expo\r\nsaid ""call me"" on Monday"\r\n'
        'second.lead,"a ""quoted"" word"\r\n',
        encoding="utf-8",
    )
    report = json.loads(team.ok("--json", "import", str(leads)).stdout)
    assert report["added"] == 2
    assert card(team, "first.lead")["notes"] == 'met at the expo\nsaid "call me" on Monday'
