"""``repair``: check the local store, and rebuild it from what a damaged file and the
newest backup hold (``app/repair.py``)."""

from __future__ import annotations

from typing import Annotated

import typer

from dmledger.cli.render import escape
from dmledger.cli.state import emit_json, err, out, state


def register(app: typer.Typer) -> None:
    app.command("repair")(repair)


def repair(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Only check the store (SQLite's integrity check); change nothing."
        ),
    ] = False,
) -> None:
    """Repair a damaged local store: move it aside (kept), salvage every queued DM and
    edit it can read, add what the newest backup holds, rebuild, resync. Exit 1 from
    --check when the store is damaged."""
    from dmledger.app import repair as service

    st = state(ctx)
    view = service.check(st.home) if check else service.repair(st.home)
    if st.json:
        emit_json(view.to_dict())
    else:
        _print(view)
    if check and view.damaged:
        raise typer.Exit(1)


def _print(view: object) -> None:
    from dmledger.app.views import RepairView

    assert isinstance(view, RepairView)
    if not view.damaged:
        out.print("The local store is sound: nothing to repair.")
        return
    if view.checked_only:
        err.print("[bold red]The local store is damaged:[/]")
        for problem in view.problems:
            err.print("  " + escape(problem))
        err.print("Run `dmledger repair` to rebuild it.")
        return
    out.print(f"The damaged store was moved to {escape(view.moved_to or '')} (kept).")
    d = view.details
    out.print(
        f"Queued and kept: {view.salvaged} read from the damaged file, {view.from_backup} "
        f"from the backup{' ' + escape(view.backup) if view.backup else ''} "
        f"(DMs {d['dms']['salvaged']}+{d['dms']['from_backup']}, "
        f"edits {d['edits']['salvaged']}+{d['edits']['from_backup']}, "
        f"team changes {d['team_changes']['salvaged']}+{d['team_changes']['from_backup']})."
    )
    if view.lost_items or view.uncounted:
        err.print(f"[bold red]Lost ({view.lost} counted):[/]")
        for item in [*view.lost_items, *view.uncounted]:
            err.print("  " + escape(item))
    else:
        out.print("Nothing queued was lost.")
    if view.resynced:
        out.print("Synced: the queue is in the cloud and the cache was read again.")
    else:
        err.print(
            "[yellow]Not synced yet: "
            + escape(view.resync_error or "")
            + ". The queue is kept; the next sync sends it and reads the cache again.[/]"
        )
