"""``operator …`` and ``actor …``: the team's people, kept in the cloud."""

from __future__ import annotations

from typing import Annotated

import typer

from dmledger.cli.render import escape
from dmledger.cli.state import emit_json, out, state

operator_app = typer.Typer(help="Operators: the people on the team.", no_args_is_help=True)
actor_app = typer.Typer(
    help="Actors: the Instagram accounts DMs are sent from.", no_args_is_help=True
)


@operator_app.command("add")
def operator_add(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="e.g. Sarah")]
) -> None:
    """Register an operator in the cloud."""
    st = state(ctx)
    created = st.ledger().add_operator(name)
    if st.json:
        emit_json({"operator": name.strip(), "created": created})
    else:
        out.print(
            f"Operator {escape(name.strip())} " + ("added." if created else "already exists.")
        )


@operator_app.command("list")
def operator_list(ctx: typer.Context) -> None:
    """List the operators in the cloud."""
    st = state(ctx)
    names = st.ledger().list_operators()
    if st.json:
        emit_json(names)
    else:
        out.print("\n".join(escape(n) for n in names) or "No operators yet.")


@actor_app.command("add")
def actor_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The Instagram account's handle.")],
    operator: Annotated[str | None, typer.Option(help="Who owns it (default: you).")] = None,
) -> None:
    """Register an actor (sending account) in the cloud."""
    st = state(ctx)
    created = st.ledger().add_actor(username, operator)
    if st.json:
        emit_json({"actor": username, "created": created})
    else:
        out.print(f"Actor {escape(username)} " + ("added." if created else "already exists."))


@actor_app.command("list")
def actor_list(ctx: typer.Context) -> None:
    """List actors with their owner and status."""
    st = state(ctx)
    rows = st.ledger().list_actors()
    if st.json:
        emit_json(
            [
                {"username": a.username, "operator": a.owner_operator, "status": a.status}
                for a in rows
            ]
        )
        return
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for name in ("actor", "operator", "status"):
        table.add_column(name)
    for a in rows:
        table.add_row(escape(a.username), escape(a.owner_operator or ""), escape(a.status))
    out.print(table if rows else "No actors yet.")


@actor_app.command("set-status")
def actor_set_status(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The actor.")],
    status: Annotated[str, typer.Argument(help="active, restricted, banned or retired.")],
) -> None:
    """Record an account's health: active, restricted, banned, retired."""
    st = state(ctx)
    st.ledger().set_actor_status(username, status)
    if st.json:
        emit_json({"actor": username, "status": status.strip().lower()})
    else:
        out.print(f"{escape(username)}: {escape(status.strip().lower())}")


def register(root: typer.Typer) -> None:
    """``operator …`` and ``actor …``."""
    root.add_typer(operator_app, name="operator")
    root.add_typer(actor_app, name="actor")
