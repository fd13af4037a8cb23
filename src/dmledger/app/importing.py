"""CSV in and out: leads, past DMs, and the export of what a list shows.

Files are read by :mod:`dmledger.app.csvfile` (encodings, delimiters, header or none,
limits), which checks the whole file before anything is written. Imports then stream
it (a million rows never sit in memory), write in batches of one transaction each,
and end with a report: how the file was read, added, already known, duplicates in the
file, and every invalid line with its number and reason. Re-importing the same file
adds nothing.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Sized
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dmledger.domain.handles import normalize_handle
from dmledger.domain.records import ActorRow, OutgoingLog
from dmledger.domain.statuses import parse_status
from dmledger.domain.text import NOTES_MAX_CHARS, clean_text
from dmledger.domain.timeutil import format_utc, parse_utc
from dmledger.errors import DmLedgerError, InvalidInput
from dmledger.local import ProspectFilter, apply_dm_to_cache, iso

from . import csvfile
from .csvfile import CsvLayout
from .filters import normalised_filter
from .outgoing import new_dm, require_registered_actor
from .views import ImportReport

if TYPE_CHECKING:
    from dmledger.domain.timeutil import Clock
    from dmledger.local import LocalStore
    from dmledger.settings import Settings

BATCH = 5000
HANDLE_COLUMNS = (
    "handle",
    "username",
    "target_username",
    "instagram",
    "profile",
    "url",
    "ig",
    "handles",
    "usernames",
    "instagram_handle",
    "ig_handle",
    "profile_url",
    "lead",
    "leads",
)
# Words that make a first row a header even though each is also a valid handle.
HEADER_WORDS: tuple[str, ...] = (
    *("name", "names", "account", "accounts", "user", "users", "link", "links"),
    *("email", "phone", "city", "country", "date", "tags", "comment", "comments"),
)
# Lead columns read besides the handle; any other column is named in the report as ignored.
LEAD_COLUMNS = ("status", "notes")
LOG_COLUMNS = ("handle", "message", "sent_at", "actor", "operator")
LOG_REQUIRED = ("handle", "message", "sent_at")
LOG_NAMESPACE = uuid.UUID("5d1e6b0c-3f0e-4f55-9a51-7d0c2c6f1a10")

ProgressFn = Callable[[int], None]  # rows read so far


def _is_handle(text: str) -> bool:
    try:
        normalize_handle(text)
    except InvalidInput:
        return False
    return True


def _pick_column(layout: CsvLayout, column: str | None) -> int:
    """The index of the handle column: named, found by name, or the only one."""
    names = layout.names
    shown = ", ".join(layout.header) if layout.header is not None else "no header row"
    if column is not None:
        wanted = column.strip().lower()
        if wanted not in names:
            raise InvalidInput(
                f"column {column!r} is not in {layout.path.name}: its columns are {shown}"
            )
        return names.index(wanted)
    for choice in HANDLE_COLUMNS:
        if choice in names:
            return names.index(choice)
    if len(names) == 1:
        return 0
    if layout.header is None:
        raise InvalidInput(
            f"cannot tell which column of {layout.path.name} holds the handles: its first "
            "row names no known column, so it is read as data; add a header row "
            "(e.g. handle) and pass --column NAME if it is not found by name"
        )
    raise InvalidInput(
        f"cannot tell which column of {layout.path.name} holds the handles "
        f"(columns: {shown}): pass --column NAME"
    )


def _describe(report: ImportReport, layout: CsvLayout, used: list[int]) -> None:
    report.encoding = layout.encoding_label
    report.delimiter = layout.delimiter
    report.header = layout.header is not None
    names = layout.names
    report.columns_used = [names[i] for i in used]
    report.ignored_columns = [n for i, n in enumerate(names) if i not in used and n]


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


class CsvFiles:
    """CSV in and out for one home: owned by ``Ledger`` (``ledger.csv``), built with the
    local store, the settings (this home's operator and default actor) and the clock."""

    def __init__(self, local: LocalStore, settings: Settings, clock: Clock) -> None:
        self.local = local
        self.settings = settings
        self.clock = clock

    def import_prospects(
        self,
        path: Path,
        *,
        column: str | None = None,
        status: str | None = None,
        encoding: str | None = None,
        progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Add every valid, new handle of a CSV file as a lead (queued for sync).

        A ``status`` or ``notes`` column is read too (a row's status wins over ``status``);
        leads already known are left as they are. The whole file is read once first, so a
        file that cannot be read is refused before anything is written.
        """
        chosen_status = parse_status(status).value if status else "new"
        known_names = (*HANDLE_COLUMNS, *LEAD_COLUMNS, *HEADER_WORDS, *([column] if column else []))
        layout = csvfile.inspect(
            path, encoding=encoding, known_columns=known_names, is_data=_is_handle
        )
        handle_at = _pick_column(layout, column)
        names = layout.names
        status_at = names.index("status") if "status" in names and layout.header else None
        notes_at = names.index("notes") if "notes" in names and layout.header else None
        if status_at == handle_at:
            status_at = None
        if notes_at == handle_at:
            notes_at = None
        report = ImportReport()
        _describe(report, layout, [i for i in (handle_at, status_at, notes_at) if i is not None])
        seen: set[str] = set()
        batch: list[dict[str, str | None]] = []
        now = iso(self.clock())

        def flush() -> None:
            if not batch:
                return
            store = self.local
            with store.transaction() as conn:
                known = store.known_handles(conn, [row["target_username"] or "" for row in batch])
                fresh = [row for row in batch if row["target_username"] not in known]
                report.known += len(batch) - len(fresh)
                store.insert_new_prospects(conn, [{**row, "last_updated": None} for row in fresh])
                edits = [{"op": "add", **row, "created_at": now} for row in fresh]
                store.enqueue_edits(conn, edits)
                report.added += len(fresh)
            batch.clear()

        for line, cells in csvfile.rows(layout):
            report.rows += 1
            raw = _cell(cells, handle_at)
            if not raw.strip():
                report.invalid.append((line, raw, "empty"))
                continue
            try:
                handle = normalize_handle(raw)
                row_status = _cell(cells, status_at).strip()
                lead_status = parse_status(row_status).value if row_status else chosen_status
                notes = clean_text(_cell(cells, notes_at), "notes", NOTES_MAX_CHARS) or None
            except InvalidInput as error:
                report.invalid.append((line, raw, str(error)))
                continue
            if handle in seen:
                report.duplicates_in_file += 1
                continue
            seen.add(handle)
            batch.append({"target_username": handle, "status": lead_status, "notes": notes})
            _write_when_full(batch, BATCH, flush, progress, report.rows)
        _write_when_full(batch, 0, flush, progress, report.rows)
        return report

    def import_logs(
        self,
        path: Path,
        *,
        add_actors: bool = False,
        encoding: str | None = None,
        progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Record past DMs from a spreadsheet: columns handle, message, sent_at, actor.

        Each row goes through the validation ``log`` uses (:mod:`dmledger.app.outgoing`):
        a row ``log`` would refuse is reported as invalid with its line number. A row whose
        actor is not registered is refused too, unless ``add_actors``: then the accounts
        the file names are registered for this operator and listed in the report. Each DM
        gets an id derived from its content, so importing the same file twice records
        nothing new. Past DMs to leads excluded since are kept: they happened.
        """
        layout = csvfile.inspect(path, encoding=encoding, known_columns=LOG_COLUMNS)
        names = layout.names
        missing = [c for c in LOG_REQUIRED if c not in names]
        if missing:
            raise InvalidInput(
                f"{path.name} has no column {', '.join(missing)}: import-logs needs a header row "
                f"naming the columns {', '.join(LOG_COLUMNS)} (actor and operator may be left out)"
            )
        at = {name: names.index(name) for name in LOG_COLUMNS if name in names}
        report = ImportReport()
        _describe(report, layout, list(at.values()))
        batch: list[OutgoingLog] = []
        operator = self.settings.operator
        now = self.clock()
        registered: set[str] = set()

        def flush() -> None:
            if not batch:
                return
            store = self.local
            with store.transaction() as conn:
                for item in batch:
                    local_id = store.insert_log(conn, item)
                    if local_id is None:
                        report.known += 1
                        continue
                    apply_dm_to_cache(store, conn, item)
                    report.added += 1
            batch.clear()

        for line, cells in csvfile.rows(layout):
            report.rows += 1
            row = {name: _cell(cells, index) for name, index in at.items()}
            try:
                item = _log_from_row(row, operator, self.settings.actor, now)
                self._check_actor(item.actor, add_actors, registered, report)
            except DmLedgerError as error:
                report.invalid.append((line, ",".join(cells)[:80], str(error)))
                continue
            batch.append(item)
            _write_when_full(batch, 1000, flush, progress, report.rows)
        _write_when_full(batch, 0, flush, progress, report.rows)
        return report

    def _check_actor(
        self, actor: str, add: bool, registered: set[str], report: ImportReport
    ) -> None:
        if actor in registered:
            return
        store = self.local
        with store.transaction() as conn:
            if add and store.get_actor(conn, actor) is None:
                store.remember_actor(conn, ActorRow(actor, self.settings.operator, "active"))
                report.actors_added.append(actor)
            require_registered_actor(store, conn, actor)
        registered.add(actor)

    def export_prospects(self, target: Path | io.TextIOBase, where: ProspectFilter) -> int:
        """Write what ``prospect list`` would show, every page of it, as CSV. Returns rows."""
        where = normalised_filter(where)
        written = 0

        def write(out: io.TextIOBase) -> None:
            nonlocal written
            writer = csvfile.SpreadsheetWriter(out)
            writer.writerow(EXPORT_COLUMNS)
            after: str | None = None
            while True:
                with self.local.reading() as conn:
                    page = self.local.list_prospects(conn, where, after=after, limit=5000)
                for p in page:
                    writer.writerow(
                        [
                            p.handle,
                            p.status,
                            p.owner_actor or "",
                            p.owner_operator or "",
                            format_utc(p.first_contacted) or "",
                            format_utc(p.last_updated) or "",
                            p.notes or "",
                        ]
                    )
                written += len(page)
                if len(page) < 5000:
                    return
                after = page[-1].handle

        if isinstance(target, Path):
            temporary = target.with_name(target.name + ".part")
            try:
                with temporary.open("w", encoding="utf-8", newline="") as out:
                    write(out)
                temporary.replace(target)
            except BaseException:
                # A refused filter or a full disk leaves no half-written file behind.
                temporary.unlink(missing_ok=True)
                raise
        else:
            write(target)
        return written


def _log_from_row(
    row: dict[str, str], operator: str, default_actor: str | None, now: datetime
) -> OutgoingLog:
    missing = [c for c in LOG_REQUIRED if not row.get(c, "").strip()]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    actor = row.get("actor", "").strip() or default_actor
    if not actor:
        raise InvalidInput("missing actor (and no actor was set at init)")
    sent_at = parse_utc(row["sent_at"])
    # The id comes from the cleaned values: the same row imported twice gets the same id.
    item = new_dm(
        "",
        row["handle"],
        row["message"],
        actor=actor,
        operator=row.get("operator", "").strip() or operator,
        sent_at=sent_at,
        now=now,
    )
    key = f"{item.target}\x1f{item.actor}\x1f{sent_at.isoformat()}\x1f{item.message}"
    return replace(item, client_log_id=str(uuid.uuid5(LOG_NAMESPACE, key)))


EXPORT_COLUMNS = (
    "handle",
    "status",
    "owner_actor",
    "owner_operator",
    "first_contacted",
    "last_updated",
    "notes",
)


def _write_when_full(
    batch: Sized, size: int, flush: Callable[[], None], progress: ProgressFn | None, rows: int
) -> None:
    """Write the batch once it holds ``size`` rows (0: at the end of the file, whatever
    it holds), then say how many rows of the file are read."""
    if len(batch) >= size:
        flush()
        if progress is not None:
            progress(rows)
