"""CSV in and out: leads, past DMs, and the export of what a list shows.

Imports stream the file (a million rows never sit in memory), write in batches of
one transaction each, and end with a report: added, already known, duplicates in
the file, and every invalid line with its number and reason. Re-importing the same
file adds nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dmledger.domain.handles import normalize_handle, validate_actor_username
from dmledger.domain.records import ActorRow, OutgoingLog
from dmledger.domain.statuses import parse_status
from dmledger.domain.timeutil import format_utc, parse_utc
from dmledger.errors import DmLedgerError, InvalidInput
from dmledger.local.effects import apply_dm_to_cache
from dmledger.local.store import ProspectFilter, iso

from .views import ImportReport

if TYPE_CHECKING:
    from .ledger import Ledger

BATCH = 5000
HANDLE_COLUMNS = ("handle", "username", "target_username", "instagram", "profile", "url", "ig")
LOG_NAMESPACE = uuid.UUID("5d1e6b0c-3f0e-4f55-9a51-7d0c2c6f1a10")

ProgressFn = Callable[[int], None]  # bytes read so far


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a CSV file with a header row."""
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise InvalidInput(f"{path} is empty: expected a header row and one lead per line")
        for row in reader:
            yield reader.line_num, {(k or "").strip().lower(): (v or "") for k, v in row.items()}


def _pick_column(path: Path, column: str | None, choices: tuple[str, ...]) -> str:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise InvalidInput(f"{path} is empty: expected a header row")
    names = [h.strip().lower() for h in header]
    if column is not None:
        if column.strip().lower() not in names:
            raise InvalidInput(
                f"column {column!r} is not in {path.name}: its columns are {', '.join(header)}"
            )
        return column.strip().lower()
    for choice in choices:
        if choice in names:
            return choice
    if len(names) == 1:
        return names[0]
    raise InvalidInput(
        f"cannot tell which column of {path.name} holds the handles "
        f"(columns: {', '.join(header)}): pass --column NAME"
    )


def import_prospects(
    ledger: Ledger,
    path: Path,
    *,
    column: str | None = None,
    status: str | None = None,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Add every valid, new handle of a CSV file as a lead (queued for sync)."""
    chosen_status = parse_status(status).value if status else "new"
    name = _pick_column(path, column, HANDLE_COLUMNS)
    report = ImportReport()
    seen: set[str] = set()
    batch: list[str] = []
    now = iso(ledger.clock())

    def flush() -> None:
        if not batch:
            return
        store = ledger.local
        with store.transaction() as conn:
            known = store.known_handles(conn, batch)
            fresh = [h for h in batch if h not in known]
            report.known += len(batch) - len(fresh)
            store.insert_new_prospects(
                conn,
                [
                    {"target_username": h, "status": chosen_status, "last_updated": None}
                    for h in fresh
                ],
            )
            store.enqueue_edits(
                conn,
                [
                    {"op": "add", "target_username": h, "status": chosen_status, "created_at": now}
                    for h in fresh
                ],
            )
            report.added += len(fresh)
        batch.clear()

    size_hint = 0
    for line, row in _rows(path):
        report.rows += 1
        raw = row.get(name, "")
        size_hint += len(raw) + 1
        if not raw.strip():
            report.invalid.append((line, raw, "empty"))
            continue
        try:
            handle = normalize_handle(raw)
        except InvalidInput as error:
            report.invalid.append((line, raw, str(error)))
            continue
        if handle in seen:
            report.duplicates_in_file += 1
            continue
        seen.add(handle)
        batch.append(handle)
        if len(batch) >= BATCH:
            flush()
            if progress is not None:
                progress(report.rows)
    flush()
    if progress is not None:
        progress(report.rows)
    return report


def import_logs(ledger: Ledger, path: Path, *, progress: ProgressFn | None = None) -> ImportReport:
    """Record past DMs from a spreadsheet: columns handle, message, sent_at, actor.

    Each DM gets an id derived from its content, so importing the same file twice
    records nothing new. Past DMs to leads excluded since are kept: they happened.
    """
    _pick_column(path, None, ("handle",))
    report = ImportReport()
    batch: list[tuple[int, OutgoingLog]] = []
    operator = ledger.settings.operator

    def flush() -> None:
        if not batch:
            return
        store = ledger.local
        with store.transaction() as conn:
            for _line, item in batch:
                if store.get_actor(conn, item.actor) is None:
                    store.remember_actor(conn, ActorRow(item.actor, operator, "active"))
                local_id = store.insert_log(conn, item)
                if local_id is None:
                    report.known += 1
                    continue
                apply_dm_to_cache(store, conn, item)
                report.added += 1
        batch.clear()

    for line, row in _rows(path):
        report.rows += 1
        try:
            item = _log_from_row(row, operator, ledger.settings.actor)
        except DmLedgerError as error:
            report.invalid.append((line, ",".join(row.values())[:80], str(error)))
            continue
        batch.append((line, item))
        if len(batch) >= 1000:
            flush()
            if progress is not None:
                progress(report.rows)
    flush()
    if progress is not None:
        progress(report.rows)
    return report


def _log_from_row(row: dict[str, str], operator: str, default_actor: str | None) -> OutgoingLog:
    missing = [c for c in ("handle", "message", "sent_at") if not row.get(c, "").strip()]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    handle = normalize_handle(row["handle"])
    actor_raw = row.get("actor", "").strip() or default_actor
    if not actor_raw:
        raise InvalidInput("missing actor (and no actor was set at init)")
    actor = validate_actor_username(actor_raw)
    sent_at = parse_utc(row["sent_at"])
    message = row["message"].strip()
    key = f"{handle}\x1f{actor}\x1f{sent_at.isoformat()}\x1f{message}"
    return OutgoingLog(
        client_log_id=str(uuid.uuid5(LOG_NAMESPACE, key)),
        target=handle,
        actor=actor,
        operator=row.get("operator", "").strip() or operator,
        message=message,
        sent_at=sent_at,
    )


EXPORT_COLUMNS = (
    "handle",
    "status",
    "owner_actor",
    "owner_operator",
    "first_contacted",
    "last_updated",
    "notes",
)


def export_prospects(ledger: Ledger, target: Path | io.TextIOBase, where: ProspectFilter) -> int:
    """Write what ``prospect list`` would show, every page of it, as CSV. Returns rows."""
    written = 0

    def write(out: io.TextIOBase) -> None:
        nonlocal written
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        after: str | None = None
        while True:
            page = ledger.list_prospects(where, after=after, limit=5000)
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
