"""The Leads page: search and filters, keyset pages, inline and bulk status changes,
CSV import (with the same report as the CLI) and CSV export.

Paging is by handle (``after=`` the last handle shown), never OFFSET, so page 20,000
of a million leads costs what page 1 does. The total is counted only when the page
asks for it, after it has rendered.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from dmledger.app.views import LeadView
from dmledger.domain.timeutil import utcnow
from dmledger.errors import InvalidInput
from dmledger.local import ProspectFilter

from .errors import status_for
from .render import flash_redirect, page
from .security import csrf_protect, safe_next
from .state import WebState, web_state

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
State = Annotated[WebState, Depends(web_state)]

PAGE_SIZES = (25, 50, 100, 200)
Text = Annotated[str, Query(max_length=200)]


def day_or_none(raw: str, what: str) -> datetime | None:
    """A ``YYYY-MM-DD`` date input as midnight UTC; None when empty."""
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput(f"{what} {raw[:40]!r} is not a date: expected YYYY-MM-DD") from None


def day_after_or_none(raw: str, what: str) -> datetime | None:
    """An inclusive last day (``YYYY-MM-DD``) as the exclusive midnight that follows it;
    None when empty. InvalidInput for a day with no day after it (9999-12-31)."""
    last = day_or_none(raw, what)
    if last is None:
        return None
    if last.date() == date.max:
        raise InvalidInput(
            f"{what} {raw[:40]!r} is the calendar's last day: the latest date allowed is "
            f"{date.max - timedelta(days=1)}"
        )
    return last + timedelta(days=1)


@dataclass
class LeadQuery:
    """The Leads filters in a query string; one dependency for the page, count and export."""

    q: Text = ""
    status: Text = ""
    owner: Text = ""
    operator: Text = ""
    start: Text = ""
    end: Text = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def filter(self) -> ProspectFilter:
        """The ProspectFilter it describes; ``end`` is inclusive. InvalidInput on bad dates."""
        return ProspectFilter(
            status=self.status or None,
            owner_actor=self.owner or None,
            owner_operator=self.operator or None,
            search=self.q.strip() or None,
            contacted_from=day_or_none(self.start, "first contacted from"),
            contacted_to=day_after_or_none(self.end, "first contacted to"),
        )


Filters = Annotated[LeadQuery, Depends()]


@router.get("/leads", response_class=HTMLResponse)
def leads(
    request: Request,
    state: State,
    lead_query: Filters,
    after: Annotated[str, Query(max_length=255)] = "",
    limit: int = 50,
) -> HTMLResponse:
    """One page of leads matching the filters, in handle order."""
    size = limit if limit in PAGE_SIZES else 50
    filters = lead_query.as_dict()
    rows = []
    error = None
    status_code = 200
    more = False
    notice = None
    try:
        where = lead_query.filter()
        rows = state.ledger.list_prospects(where, after=after or None, limit=size + 1)
        notice = state.ledger.search_notice(where)
        more = len(rows) > size
        rows = rows[:size]
    except InvalidInput as problem:
        error, status_code = str(problem), status_for(problem)
    query = {k: v for k, v in filters.items() if v}
    if size != 50:
        query["limit"] = str(size)
    people = state.ledger.people.local()
    return page(
        request,
        "leads.html",
        {
            "rows": [LeadView.of(p) for p in rows],
            "filters": filters,
            "query": query,
            "after": after,
            "next_after": rows[-1].handle if more and rows else None,
            "next_query": query | {"after": rows[-1].handle} if rows else query,
            "limit": size,
            "page_sizes": PAGE_SIZES,
            "error": error,
            "search_notice": notice,
            "actors": people.actors,
            "operators": people.operators,
        },
        status_code=status_code,
        section="leads",
    )


@router.get("/leads/count")
def count(state: State, lead_query: Filters) -> JSONResponse:
    """How many leads match (asked for by the page once it is shown)."""
    return JSONResponse({"count": state.ledger.count_prospects(lead_query.filter())})


@router.post("/leads/status")
def bulk_status(
    request: Request,
    state: State,
    status: Annotated[str, Form(max_length=50)],
    handles: Annotated[list[str] | None, Form()] = None,
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Set one status on every ticked lead."""
    result = state.ledger.set_status_many(handles or [], status)
    state.request_sync()
    text = f"{len(result.changed)} leads set to {result.status}."
    if result.failed:
        shown = "; ".join(f"{h}: {why}" for h, why in result.failed[:5])
        text += f" {len(result.failed)} could not be changed — {shown}"
    return flash_redirect(safe_next(next, "/leads"), "error" if result.failed else "ok", text)


@router.get("/leads/export.csv")
def export(state: State, lead_query: Filters) -> FileResponse:
    """Every lead matching the filters (all pages), as CSV."""
    where = lead_query.filter()
    folder = Path(tempfile.mkdtemp(prefix="dmledger-export-"))
    path = folder / "leads.csv"
    try:
        state.ledger.csv.export_prospects(path, where)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return FileResponse(
        path,
        media_type="text/csv",
        filename=f"dmledger-leads-{stamp}.csv",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.get("/leads/import", response_class=HTMLResponse)
def import_form(request: Request, state: State) -> HTMLResponse:
    return page(request, "import.html", {"report": None, "filename": ""}, section="leads")


@router.post("/leads/import", response_class=HTMLResponse)
def import_csv(
    request: Request,
    state: State,
    file: UploadFile,
    column: Annotated[str, Form(max_length=100)] = "",
    status: Annotated[str, Form(max_length=50)] = "",
) -> HTMLResponse:
    """Import leads from an uploaded CSV; shows added, known, duplicates and invalid lines."""
    with tempfile.TemporaryDirectory(prefix="dmledger-import-") as folder:
        path = Path(folder) / _upload_name(file.filename)
        with path.open("wb") as target:
            shutil.copyfileobj(file.file, target, 1 << 20)
        report = state.ledger.csv.import_prospects(
            path, column=column or None, status=status or None
        )
    if report.added:
        state.request_sync()
    return page(
        request,
        "import.html",
        {"report": report, "filename": file.filename or "upload.csv"},
        section="leads",
    )


def _upload_name(filename: str | None) -> str:
    """The uploaded file's own name when it is a plain one, so a refusal names the file
    the person chose; otherwise (a path, "..", control characters, too long) upload.csv."""
    name = Path(filename or "").name
    if re.fullmatch(r"[\w .,()+-]{1,120}", name) and name.strip("."):
        return name
    return "upload.csv"
