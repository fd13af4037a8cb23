"""``prospect …``, ``import``, ``import-logs``, ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dmledger.app.views import LeadView
from dmledger.cli import render
from dmledger.cli.render import escape
from dmledger.cli.state import emit_json, err, out, progress_bar, state
from dmledger.domain.timeutil import format_utc
from dmledger.errors import InvalidInput, Refused

app = typer.Typer(
    help="Leads: add, show the status card, change, list, delete.", no_args_is_help=True
)


@app.command("add")
def add(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="Handle, @handle or profile URL.")],
    status: Annotated[str | None, typer.Option(help="Initial status (default new).")] = None,
    notes: Annotated[str | None, typer.Option(help="Notes about the lead.")] = None,
) -> None:
    """Add a lead to the ledger."""
    st = state(ctx)
    prospect = st.ledger().add_prospect(handle, status=status, notes=notes)
    if st.json:
        emit_json(LeadView.of(prospect).to_dict())
    else:
        out.print(f"Added {escape(prospect.handle)} ({prospect.status}).")


@app.command("show")
def show(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="Handle, @handle or profile URL.")],
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="This machine's DMs only: do not ask the cloud for the team's."
        ),
    ] = False,
) -> None:
    """The status card: contacted or not, by whom, when, status, notes, last DMs.

    A lead nobody has recorded is an answer too (exit 0, contacted false). The team's
    DMs come from the cloud when it answers within a few seconds; the card says when
    it did not."""
    st = state(ctx)
    c = st.ledger().card(handle, team=not local)
    if st.json:
        emit_json(c.to_dict())
    else:
        out.print(render.card(c))


@app.command("set")
def set_(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="Handle, @handle or profile URL.")],
    status: Annotated[str | None, typer.Option(help="New status.")] = None,
    notes: Annotated[str | None, typer.Option(help="Replace the notes.")] = None,
    append_note: Annotated[str | None, typer.Option(help="Add a dated line to the notes.")] = None,
    follow_up: Annotated[
        str | None,
        typer.Option(help="Next follow-up: YYYY-MM-DD (UTC), +Nd from now, or none."),
    ] = None,
    snooze: Annotated[
        str | None, typer.Option(help="Put a due follow-up off, e.g. 1d (from now).")
    ] = None,
) -> None:
    """Change a lead's status, notes and/or next follow-up."""
    st = state(ctx)
    ledger = st.ledger()
    if follow_up is not None and snooze is not None:
        raise InvalidInput("give either --follow-up or --snooze, not both")
    prospect = None
    if status is not None or notes is not None or append_note is not None:
        prospect = ledger.update_prospect(
            handle, status=status, notes=notes, append_note=append_note
        )
    if follow_up is not None:
        prospect = ledger.followups.set_follow_up(handle, follow_up)
    elif snooze is not None:
        prospect = ledger.followups.snooze(handle, snooze)
    if prospect is None:
        raise InvalidInput(
            "nothing to change: give --status, --notes, --append-note, --follow-up or --snooze"
        )
    if st.json:
        emit_json(LeadView.of(prospect).to_dict())
    else:
        due = format_utc(prospect.follow_up_at)
        out.print(
            f"{escape(prospect.handle)}: {render.status_text(prospect.status)}"
            + (f", next follow-up {due}" if due else "")
        )


if TYPE_CHECKING:
    from dmledger.local import ProspectFilter


def _filter(
    status: str | None, owner: str | None, search: str | None, operator: str | None = None
) -> ProspectFilter:
    from dmledger.local import ProspectFilter

    return ProspectFilter(status=status, owner_actor=owner, search=search, owner_operator=operator)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only leads owned by this actor.")] = None,
    operator: Annotated[
        str | None, typer.Option(help="Only leads owned by this operator's actors.")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Text in the handle or notes.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-10000).")] = 50,
    after: Annotated[
        str | None, typer.Option(help="Start after this handle (the next page).")
    ] = None,
) -> None:
    """List leads in handle order."""
    st = state(ctx)
    where = _filter(status, owner, search, operator)
    rows = st.ledger().list_prospects(where, after=after, limit=limit)
    notice = st.ledger().search_notice(where)
    if notice is not None:
        err.print(f"Note: {notice}.")
    if st.json:
        emit_json([LeadView.of(p).to_dict() for p in rows])
    elif rows:
        out.print(render.prospects(rows, out.rich.width))
    else:
        out.print("No leads match.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="Handle, @handle or profile URL.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Delete a lead with its notes and DMs, here and (at sync) for the whole team."""
    st = state(ctx)
    if not yes:
        raise Refused("deleting a lead removes its notes and DMs for the whole team: add --yes")
    st.ledger().delete_prospect(handle)
    if st.json:
        emit_json({"deleted": True})
    else:
        out.print("Deleted; the team's caches follow at their next sync.")


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return max(
                0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1
            )
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


ENCODING_HELP = "The file's encoding (utf-8, utf-16, cp1252, latin-1…); by default it is detected."


def register(root: typer.Typer) -> None:
    """``prospect …``, ``import``, ``import-logs``, ``export``."""
    root.add_typer(app, name="prospect")

    @root.command("import")
    def import_(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="A CSV file, with or without a header row.")],
        column: Annotated[
            str | None, typer.Option(help="The column with handles or profile URLs.")
        ] = None,
        status: Annotated[str | None, typer.Option(help="Status for new leads.")] = None,
        encoding: Annotated[str | None, typer.Option(help=ENCODING_HELP)] = None,
    ) -> None:
        """Import leads from CSV: handles or profile URLs; reports added, known, invalid.

        A header row is optional; status and notes columns are read too."""
        st = state(ctx)
        ledger = st.ledger()
        total = _count_lines(file)
        if st.json:
            report = ledger.csv.import_prospects(
                file, column=column, status=status, encoding=encoding
            )
            emit_json(report.to_dict())
        else:
            with progress_bar("importing") as bar:
                task = bar.add_task("import", total=total)
                report = ledger.csv.import_prospects(
                    file,
                    column=column,
                    status=status,
                    encoding=encoding,
                    progress=lambda rows: bar.update(task, completed=rows),
                )
            out.print(render.import_report(report))

    @root.command("import-logs")
    def import_logs_(
        ctx: typer.Context,
        file: Annotated[
            Path, typer.Argument(help="A CSV with columns handle, message, sent_at, actor.")
        ],
        add_actors: Annotated[
            bool,
            typer.Option(
                "--add-actors",
                help="Register the accounts the file names (for you); without it a row "
                "whose actor is not registered is refused.",
            ),
        ] = False,
        encoding: Annotated[str | None, typer.Option(help=ENCODING_HELP)] = None,
    ) -> None:
        """Import past DMs from a spreadsheet (re-importing the same file adds nothing)."""
        st = state(ctx)
        ledger = st.ledger()
        total = _count_lines(file)
        if st.json:
            report = ledger.csv.import_logs(file, add_actors=add_actors, encoding=encoding)
            emit_json(report.to_dict())
            return
        with progress_bar("importing DMs") as bar:
            task = bar.add_task("import", total=total)
            report = ledger.csv.import_logs(
                file,
                add_actors=add_actors,
                encoding=encoding,
                progress=lambda rows: bar.update(task, completed=rows),
            )
        out.print(render.import_report(report))

    @root.command("export")
    def export(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="Where to write the CSV ('-' for stdout).")],
        status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
        owner: Annotated[str | None, typer.Option(help="Only leads owned by this actor.")] = None,
        search: Annotated[str | None, typer.Option(help="Text in the handle or notes.")] = None,
    ) -> None:
        """Export what `prospect list` would show, as CSV."""
        import sys

        st = state(ctx)
        target = sys.stdout if str(file) == "-" else file
        count = st.ledger().csv.export_prospects(target, _filter(status, owner, search))  # type: ignore[arg-type]
        if str(file) != "-":
            if st.json:
                emit_json({"rows": count, "file": str(file)})
            else:
                out.print(f"Wrote {count} leads to {escape(str(file))}.")
