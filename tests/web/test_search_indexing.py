"""A full resync stopped after its rows and before its indexes: cards answer, search
scans and says so on the Leads page, in the API and in the CLI, and the next sync
builds the indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from web_support import TestClient

from dmledger.app.ledger import SEARCH_INDEXING, Ledger
from dmledger.cli import app as cli_app
from dmledger.local import schema


class Stopped(Exception):
    """Stands for the process stopping (Ctrl-C, a kill) once the last page is in."""


def _index_names(ledger: Ledger) -> set[str]:
    with ledger.local.reading() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')"
        ).all()
    return {str(r[0]) for r in rows}


def _stop_a_resync_after_its_rows(ledger: Ledger) -> None:
    with ledger.local.transaction() as conn:
        ledger.local.set_meta(conn, "force_resync", "1")  # the next sync reads every row

    def progress(done: int, total: int | None) -> None:
        raise Stopped(f"stopped after {done} rows")

    with pytest.raises(Stopped):
        ledger.sync(progress)


def _cli(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_resync_stopped_before_its_index_scans_says_so_and_the_next_sync_builds_it(
    client: TestClient, ledger: Ledger, auth: dict[str, str]
) -> None:
    built = {i.name for i in schema.PROSPECT_INDEXES} | set(schema.FTS_TRIGGERS)
    assert built <= _index_names(ledger)

    _stop_a_resync_after_its_rows(ledger)

    # The rows are in and the indexes on them are off.
    assert not built & _index_names(ledger)
    card = client.get("/api/v1/prospects/glow.skin", headers=auth)
    assert card.status_code == 200 and card.json()["owner_actor"] == "marcus.closes"

    page = client.get("/leads", params={"q": "expo"})
    assert 'id="search-notice"' in page.text
    assert "Search index is being built (in the background, after a sync)" in page.text
    assert "the results are complete, only slower." in page.text
    assert 'href="/lead/quiet.lead"' in page.text  # found by the scan
    api = client.get("/api/v1/prospects", params={"search": "expo"}, headers=auth)
    assert api.status_code == 200
    assert [p["handle"] for p in api.json()["items"]] == ["quiet.lead"]
    assert SEARCH_INDEXING in api.headers["warning"]
    code, out, err = _cli(ledger.home, "prospect", "list", "--search", "expo")
    assert code == 0 and "quiet.lead" in out
    assert f"Note: {SEARCH_INDEXING}." in err
    code, out, _err = _cli(ledger.home, "status", "--offline")
    assert code == 0 and "search index: being built, 0 of" in out
    code, out, _err = _cli(ledger.home, "--json", "status", "--offline")
    with ledger.local.reading() as conn:
        leads = conn.exec_driver_sql("SELECT count(*) FROM prospects").scalar_one()
    assert code == 0 and json.loads(out)["indexing"] == {"indexed": 0, "leads": leads}
    # Without a search there is nothing to say.
    assert 'id="search-notice"' not in client.get("/leads").text
    assert "warning" not in client.get("/api/v1/prospects", headers=auth).headers

    report = ledger.sync()  # resumes the resync, then builds what it left off

    assert report.index_seconds > 0
    assert built <= _index_names(ledger)
    page = client.get("/leads", params={"q": "expo"})
    assert 'id="search-notice"' not in page.text
    assert 'href="/lead/quiet.lead"' in page.text  # found by the index now
    api = client.get("/api/v1/prospects", params={"search": "expo"}, headers=auth)
    assert "warning" not in api.headers
    code, out, err = _cli(ledger.home, "prospect", "list", "--search", "expo")
    assert code == 0 and "quiet.lead" in out and SEARCH_INDEXING not in err
    with ledger.local.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO prospects_fts(prospects_fts) VALUES ('integrity-check')")
    assert ledger.sync().index_seconds == 0  # built once
    code, out, _err = _cli(ledger.home, "--json", "status", "--offline")
    assert code == 0 and json.loads(out)["indexing"] is None


def test_a_store_opened_mid_resync_leaves_the_indexes_to_the_resync(ledger: Ledger) -> None:
    _stop_a_resync_after_its_rows(ledger)
    again = Ledger.open(ledger.home)  # e.g. the web server starting meanwhile
    try:
        assert not {i.name for i in schema.PROSPECT_INDEXES} & _index_names(again)
    finally:
        again.close()


def test_the_sync_command_returns_once_the_rows_are_in_and_a_process_builds_the_indexes(
    ledger: Ledger,
) -> None:
    import time

    with ledger.local.transaction() as conn:
        ledger.local.set_meta(conn, "force_resync", "1")  # the next sync reads every row

    code, out, _err = _cli(ledger.home, "--json", "sync")

    assert code == 0, out
    report = json.loads(out)
    assert report["full_resync"] is True and report["indexing"] is True
    card = ledger.card("glow.skin")  # the rows are in: the card answers
    assert card.known and card.owner_actor == "marcus.closes"
    deadline = time.monotonic() + 60
    while ledger.indexes_pending():  # the builder, a process of its own
        assert time.monotonic() < deadline, "the indexes were never built"
        time.sleep(0.1)
    built = {i.name for i in schema.PROSPECT_INDEXES} | set(schema.FTS_TRIGGERS)
    assert built <= _index_names(ledger)
    with ledger.local.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO prospects_fts(prospects_fts) VALUES ('integrity-check')")
    code, out, err = _cli(ledger.home, "prospect", "list", "--search", "expo")
    assert code == 0 and "quiet.lead" in out and SEARCH_INDEXING not in err
    code, out, _err = _cli(ledger.home, "--json", "sync")  # nothing left to build
    assert code == 0 and json.loads(out)["indexing"] is False
