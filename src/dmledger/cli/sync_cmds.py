"""``sync`` and ``status``."""

from __future__ import annotations

from typing import Annotated

import typer

from dmledger.cli import render
from dmledger.cli.state import emit_json, err, out, progress_bar, state
from dmledger.errors import DmLedgerError, InvalidInput


def register(root: typer.Typer) -> None:
    @root.command("sync")
    def sync(
        ctx: typer.Context,
        watch: Annotated[
            bool, typer.Option("--watch", help="Keep syncing; back off while offline.")
        ] = False,
        interval: Annotated[
            float | None, typer.Option(help="Seconds between syncs with --watch.")
        ] = None,
        retry_failed: Annotated[
            bool, typer.Option("--retry-failed", help="Queue the set-aside rows again.")
        ] = False,
        drop_failed: Annotated[
            str | None,
            typer.Option("--drop-failed", help="Drop one set-aside row: log:ID or edit:ID."),
        ] = None,
    ) -> None:
        """Push queued DMs and edits, then pull the team's changes."""
        st = state(ctx)
        ledger = st.ledger()
        if interval is not None and interval <= 0:
            raise InvalidInput(f"interval {interval} must be more than 0 seconds")
        if drop_failed is not None:
            message = ledger.drop_set_aside(drop_failed)
            out.print(message) if not st.json else emit_json({"dropped": drop_failed})
            return
        if retry_failed:
            count = ledger.retry_set_aside()
            if not st.json:
                out.print(f"{count} set-aside rows queued again.")
        if watch:
            _watch(ledger, interval or ledger.settings.sync_interval, st.json)
            return
        # After a full resync the command returns once the rows are in: the indexes
        # are built by a process of its own (search scans and says so until then).
        if st.json:
            report = ledger.sync(build_indexes=False)
        else:
            with progress_bar("pulling") as bar:
                task = bar.add_task("pull", total=None)
                report = ledger.sync(
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                    build_indexes=False,
                )
        building = ledger.build_indexes(background=True)
        if st.json:
            from dmledger.app.views import SyncReportView

            emit_json(SyncReportView.of(report, indexing=building).to_dict())
        else:
            out.print(render.sync_report(report))
            if building:
                out.print(
                    "Search index: being built in the background; search scans until it "
                    "is ready (`dmledger status` shows how far it is)."
                )

    @root.command("status")
    def status(
        ctx: typer.Context,
        offline: Annotated[
            bool, typer.Option("--offline", help="Do not try to reach the cloud.")
        ] = False,
    ) -> None:
        """Pending DMs and edits, rows set aside, last sync, last error, cloud reachable."""
        st = state(ctx)
        result = st.ledger().status(probe_cloud=not offline)
        if st.json:
            emit_json(result.to_dict())
        else:
            out.print(render.sync_status(result))


def _watch(ledger: object, interval: float, as_json: bool) -> None:
    from dmledger.app.ledger import Ledger
    from dmledger.sync.loop import SyncLoop

    assert isinstance(ledger, Ledger)

    def on_report(report: object) -> None:
        from dmledger.sync.engine import SyncReport

        assert isinstance(report, SyncReport)
        if as_json:
            from dmledger.app.views import SyncReportView

            emit_json(SyncReportView.of(report).to_dict())
        elif report.moved or report.set_aside:
            out.print(render.sync_report(report))

    def on_error(error: DmLedgerError, delay: float) -> None:
        err.print(render.sync_retry(error, delay))

    loop = SyncLoop(ledger.sync, interval=interval, on_report=on_report, on_error=on_error)
    out.print(f"Syncing every {interval:g}s; Ctrl-C to stop.") if not as_json else None
    try:
        loop.run()
    except KeyboardInterrupt:
        loop.stop()
    if loop.state.stopped_by is not None:
        raise loop.state.stopped_by  # said once, by the CLI's one handler (exit 1)
