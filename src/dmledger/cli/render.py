"""Rich renderings of what the Ledger returns (Rich imported when first used)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.domain.text import escape_controls
from dmledger.domain.timeutil import human_time

if TYPE_CHECKING:  # imported by the commands that render them, not at start-up
    from rich.table import Table

    from dmledger.app.views import ImportReport, StatusCard, SyncStatus
    from dmledger.domain.records import Prospect
    from dmledger.sync.engine import SyncReport


def escape(text: str) -> str:
    """Text from the ledger made safe for the terminal: Rich markup escaped and control
    characters (ESC, BEL, bidi overrides …) shown as ``\\x1b``-style escapes. Every CLI
    rendering of names, handles, notes, messages and errors goes through this."""
    from rich.markup import escape as escape_markup

    return escape_markup(escape_controls(text))


STATUS_STYLE = {
    "new": "white",
    "contacted": "cyan",
    "cold": "blue",
    "warm": "yellow",
    "hot": "bold red",
    "booked": "bold green",
    "client": "bold green",
    "rejected": "dim",
    "excluded": "bold magenta",
}


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{escape(status)}[/]"


def card(c: StatusCard) -> str:
    # The verdict's words are the card's own (StatusCard.verdict_title / verdict_text).
    style = {"excluded": "bold magenta", "contacted": "yellow"}.get(c.verdict, "green")
    said = c.verdict_text
    if c.verdict == "contacted" and c.owner_actor and c.first_contacted:
        said += f" on {human_time(c.first_contacted)}"
    lines = [
        f"[bold]{escape(c.handle)}[/]  [{style}]{escape(c.verdict_title)}[/] — {escape(said)}."
    ]
    if c.known:
        lines.append(f"status {status_text(c.status)}")
    if c.last_reply_at:
        lines.append(f"replied {human_time(c.last_reply_at)}")
    if c.notes:
        lines.append("notes: " + escape(c.notes))
    for notice in c.notices:
        lines.append("[yellow]" + escape(notice) + "[/]")
    if c.notes_replaced:
        lines.append("replaced notes: " + escape(c.notes_replaced))
    for item in c.recent_logs:
        mark = "" if item.synced else " [dim](not synced yet)[/]"
        sender = escape(item.actor or "unknown account")
        if not item.local and item.operator:
            sender += f" [dim]({escape(item.operator)})[/]"
        when = human_time(item.sent_at)
        lines.append(f"  {when}  {sender}: {escape(item.message[:80])}{mark}")
    if c.team_dms == "unavailable":
        lines.append(
            "[yellow]this machine's DMs only[/]: the team's could not be fetched"
            + (f" ({escape(c.team_error)})" if c.team_error else "")
        )
    if c.pending_sync:
        lines.append("[dim]local changes waiting for sync[/]")
    return "\n".join(lines)


def prospects(rows: list[Prospect], width: int = 80) -> Table:
    """The leads as a table ``width`` characters wide: handles, statuses, owners and
    times are never cut; the notes get the room that is left."""
    headers = ("handle", "status", "owner", "first contacted")
    cells = [(p.handle, p.status, p.owner_actor or "", human_time(p.first_contacted)) for p in rows]
    sizes = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(headers)]
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for name, size in zip(headers, sizes, strict=True):
        table.add_column(name, no_wrap=True, width=size)
    # Five columns: four separators of three characters and one space at each edge.
    room = width - sum(sizes) - 3 * len(headers) - 2
    table.add_column("notes", overflow="ellipsis", no_wrap=True, width=max(room, 8))
    for p, (handle, status, owner, when) in zip(rows, cells, strict=True):
        table.add_row(
            escape(handle),
            status_text(status),
            escape(owner),
            when,
            escape((p.notes or "").replace("\n", " ")),
        )
    return table


def import_report(r: ImportReport) -> str:
    lines = [
        f"added {r.added}, already known {r.known}, duplicates in file "
        f"{r.duplicates_in_file}, invalid {len(r.invalid)} (of {r.rows} rows)",
        escape(r.how_read()),
    ]
    for line, value, reason in r.invalid[:50]:
        lines.append(f"  line {line}: {escape(value)!s}: {escape(reason)}")
    if len(r.invalid) > 50:
        lines.append(f"  … and {len(r.invalid) - 50} more (use --json for all)")
    return "\n".join(lines)


def sync_report(r: SyncReport) -> str:
    text = (
        f"pushed {r.pushed_logs} DMs and {r.pushed_edits} edits, pulled {r.pulled} "
        f"leads, {r.deleted} deletions"
    )
    if r.full_resync:
        text += f" (full resync: {escape(r.resync_reason or 'the cache was read again')})"
    if r.dropped:
        text += f"; [yellow]{r.dropped} edits dropped[/]: their lead had been deleted"
    if r.set_aside:
        text += f"; [yellow]{r.set_aside} set aside[/] (see `dmledger status`)"
    return text


def sync_retry(error: Exception, delay: float) -> str:
    """The line ``sync --watch`` prints when a sync failed and will be tried again."""
    return f"[yellow]{escape(str(error))}[/] — retrying in {delay:.0f}s"


def sync_status(s: SyncStatus) -> str:
    reach = {True: "[green]reachable[/]", False: "[red]unreachable[/]", None: "not checked"}
    lines = [
        f"cloud: {escape(s.cloud)} ({reach[s.cloud_reachable]})",
        f"pending DMs: {s.pending_logs}   pending edits: {s.pending_changes}",
        f"last sync: {human_time(s.last_sync_at) or 'never'}",
    ]
    if s.last_error:
        lines.append(f"last error: [red]{escape(s.last_error)}[/]")
    if s.indexing is not None:
        done, leads = s.indexing.indexed, s.indexing.leads
        lines.append(
            f"[yellow]search index: being built[/], {done:,} of {leads:,} leads "
            f"({100 * done // max(leads, 1)} %); search scans until it is ready"
        )
    if s.set_aside:
        lines.append(
            f"[yellow]set aside ({len(s.set_aside)})[/] — retry with "
            "`sync --retry-failed` or drop with `sync --drop-failed KIND:ID`:"
        )
        for item in s.set_aside:
            lines.append(
                f"  {item.kind}:{item.id}  {escape(item.target)}  {escape(item.detail)}: "
                f"{escape(item.error)}"
            )
    return "\n".join(lines)
