"""``cloud …``: create, check, upgrade, reset the shared database; print its DDL."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from dmledger.cli.render import escape
from dmledger.cli.state import emit_json, err, out, state
from dmledger.errors import Refused

app = typer.Typer(help="The team's shared cloud database.", no_args_is_help=True)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the schema in an empty cloud (does nothing if it is already there)."""
    st = state(ctx)
    created = st.ledger().cloud_init()
    if st.json:
        emit_json({"created": created})
    else:
        out.print("Cloud schema created." if created else "Cloud schema already in place.")


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Is the cloud reachable? Which schema version? How long is a round trip?"""
    st = state(ctx)
    info = st.ledger().cloud_check()
    if st.json:
        emit_json(asdict(info))
    else:
        if not info.reachable:
            err.print(f"[red]unreachable[/]: {escape(info.message)}")
        else:
            out.print(
                f"{escape(info.url)}: reachable, {info.backend} {info.server_version or ''}, "
                f"round trip {info.round_trip_ms:.1f} ms, schema version {info.schema_version}"
                + (" (demo data)" if info.demo_data else "")
            )
            if info.counts:
                out.print(", ".join(f"{k} {v}" for k, v in info.counts.items()))
    if not info.reachable:
        raise typer.Exit(3)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring a database made with the seed's SQL to the current schema, keeping every row."""
    st = state(ctx)
    steps = st.ledger().cloud_upgrade()
    if st.json:
        emit_json({"steps": steps})
    elif steps:
        out.print("Upgraded:\n" + "\n".join("  " + escape(s) for s in steps))
        out.print(
            "Every row is kept as written. Statuses of the seed's tool (Warm, Cold_NoReply, "
            "Booked…) are read as warm, cold, booked… in every list, filter and card."
        )
    else:
        out.print("Already at the current schema.")


@app.command("reset")
def reset(
    ctx: typer.Context,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: every lead and DM of the team is deleted.")
    ] = False,
) -> None:
    """Factory reset: drop and recreate every table. Destroys the team's data."""
    st = state(ctx)
    if not yes:
        raise Refused(
            "cloud reset deletes every lead and DM of the whole team: add --yes to confirm"
        )
    st.ledger().cloud_reset()
    if st.json:
        emit_json({"reset": True})
    else:
        out.print("Cloud reset: empty schema created.")


@app.command("ddl")
def ddl(
    ctx: typer.Context,
    dialect: Annotated[str, typer.Option(help="oracle, postgresql or sqlite.")] = "oracle",
) -> None:
    """Print the whole schema as SQL (tables, indexes, triggers) for a SQL worksheet."""
    from dmledger.app.ledger import Ledger

    script = Ledger.cloud_ddl(dialect)
    if state(ctx).json:
        emit_json({"dialect": dialect, "sql": script})
    else:
        typer.echo(script, nl=False)


@app.command("grants")
def grants(
    ctx: typer.Context,
    user: Annotated[str, typer.Option(help="The database user to give the role to.")],
    role: Annotated[str, typer.Option(help="The role: operator.")] = "operator",
    apply: Annotated[
        bool, typer.Option("--apply", help="Run the statements (as the current cloud user).")
    ] = False,
) -> None:
    """Print (or with --apply run) the grants of a least-privilege agent user:
    read/write leads and DMs, add operators and actors; no DDL, no deleting DMs."""
    st = state(ctx)
    statements = st.ledger().cloud_grants(role, user, apply=apply)
    if st.json:
        emit_json({"role": role, "user": user, "applied": apply, "statements": statements})
        return
    typer.echo("\n".join(s + ";" for s in statements))
    if apply:
        out.print(f"Applied {len(statements)} statements: {escape(user)} is now an {role}.")


@app.command("purge-tombstones")
def purge_tombstones(
    ctx: typer.Context,
    older_than_days: Annotated[
        int | None, typer.Option(help="Keep deletions newer than this (default from settings).")
    ] = None,
) -> None:
    """Forget deletions older than the retention; caches away longer resync fully."""
    st = state(ctx)
    ledger = st.ledger()
    days = older_than_days or ledger.settings.tombstone_retention_days
    purged = ledger.cloud_purge_tombstones(days)
    if st.json:
        emit_json({"purged": purged})
    else:
        out.print(f"Purged {purged} deletion records older than {days} days.")


def register(root: typer.Typer) -> None:
    """``cloud …``."""
    root.add_typer(app, name="cloud")
