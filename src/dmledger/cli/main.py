"""The root command, global options, and the one place errors become exit codes.

Exit codes: 0 success; 1 refused input or state (stderr says what and why);
2 usage error; 3 cloud unreachable for a command that needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dmledger.cli import (
    browser_cmds,
    cloud_cmds,
    people_cmds,
    prospect_cmds,
    repair_cmd,
    serve_cmd,
    sync_cmds,
    team_cmds,
    today_cmds,
)
from dmledger.cli.render import escape
from dmledger.cli.state import CliState, configure_logging, emit_json, err, out, state
from dmledger.errors import DmLedgerError
from dmledger.homedir import resolve_home


class LedgerGroup(TyperGroup):
    """Maps DM Ledger errors to a message on stderr and the contract's exit code."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        # The contract writes `prospect show foo.bar --json`: the global --json is
        # accepted after the command too, and moved to where the root reads it.
        return super().parse_args(ctx, _json_first(self, args))

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (DmLedgerError, OSError) as error:
            said = _said(ctx, error)
            err.print(f"[bold red]error:[/] {escape(str(said))}")
            raise typer.Exit(said.exit_code) from None
        finally:
            found = ctx.obj
            if isinstance(found, CliState):
                found.close()


def _said(ctx: typer.Context, error: DmLedgerError | OSError) -> DmLedgerError:
    """The error to print: an OS error only when it is a full disk (else it is a bug)."""
    if isinstance(error, DmLedgerError):
        return error
    found = ctx.obj
    home = found.home if isinstance(found, CliState) else Path.cwd()
    from dmledger.local import DB_NAME, translated

    said = translated(error, home / DB_NAME)
    if said is None:
        raise error
    return said


def _json_first(root: TyperGroup, args: list[str]) -> list[str]:
    """``args`` with a ``--json`` written after the command name moved to the front.

    A ``--json`` that is the value of an option (``--message --json``) or comes after
    ``--`` is left alone: it is data, not the flag.
    """
    command: Any = root
    takes_value = _value_options(root)
    kept: list[str] = []
    found = False
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            kept.extend(args[index:])
            break
        if token in takes_value:
            kept.extend(args[index : index + 2])
            index += 2
            continue
        if token == "--json" and command is not root:
            found = True
        else:
            subcommands = getattr(command, "commands", None)
            if subcommands is not None and token in subcommands:
                command = subcommands[token]
                takes_value = _value_options(command)
            kept.append(token)
        index += 1
    return ["--json", *kept] if found else kept


def _value_options(command: Any) -> set[str]:
    """The option names of ``command`` that take a value (the next argument)."""
    return {
        name
        for param in command.params
        if param.param_type_name == "option" and not param.is_flag and not param.count
        for name in (*param.opts, *param.secondary_opts)
    }


app = typer.Typer(
    cls=LedgerGroup,
    name="dmledger",
    help="DM Ledger: who on your team messaged whom on Instagram, from which account, "
    "and where each lead stands. Local first; syncs with the team's cloud database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"dmledger {version('dmledger')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="The DM Ledger home folder (default: $DMLEDGER_HOME, else the platform's "
            "user data folder).",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Global options apply to every command."""
    configure_logging()
    ctx.obj = CliState(home=resolve_home(home), json=json_output)


@app.command()
def init(
    ctx: typer.Context,
    operator: Annotated[
        str | None,
        typer.Option(help="Your name on the team, e.g. Sarah (needed for a new home)."),
    ] = None,
    cloud: Annotated[
        str | None,
        typer.Option(
            help="The team's cloud database URL (default: an embedded SQLite file in the "
            "home). A password in it is not saved: set DMLEDGER_CLOUD_PASSWORD instead."
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(help="The Instagram account you send DMs from (used by `log`)."),
    ] = None,
    wallet_dir: Annotated[
        str | None, typer.Option(help="Oracle: the wallet folder (tnsnames.ora, ewallet.pem).")
    ] = None,
    wallet_alias: Annotated[
        str | None, typer.Option(help="Oracle: the TNS alias, e.g. mydb_high.")
    ] = None,
    cloud_user: Annotated[str | None, typer.Option(help="Oracle: the database user.")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace the operator or cloud even with DMs or edits not synced yet."
        ),
    ] = False,
) -> None:
    """Create this home, or change only the settings given on an existing one (and say
    what changed). Works offline: it only writes the home."""
    from dmledger import settings as config
    from dmledger.app.home import init_or_update

    st = state(ctx)

    ledger, password, report = init_or_update(
        st.home,
        operator=operator,
        cloud_url=cloud,
        actor=actor,
        wallet_dir=wallet_dir,
        wallet_alias=wallet_alias,
        cloud_user=cloud_user,
        force=force,
    )
    kept = False
    if password is not None:
        kept = config.store_secret(config.cloud_secret_name(ledger.settings.cloud_url), password)
    ledger.close()
    if st.json:
        emit_json(
            {
                "home": str(st.home),
                "operator": ledger.settings.operator,
                "actor": ledger.settings.actor,
                "cloud": ledger.cloud_label,
                "password_in_keyring": kept,
                "created": report.created,
                "changes": report.changes,
                "queue_note": report.queue_note,
            }
        )
        return
    if not report.created:
        if report.changes:
            out.print(f"Updated the home at {escape(str(st.home))}:")
            for change in report.changes:
                out.print("  " + escape(change))
        else:
            out.print(f"Nothing to change in the home at {escape(str(st.home))}.")
        if report.queue_note:
            err.print(f"[yellow]{escape(report.queue_note)}[/]")
    else:
        out.print(f"DM Ledger home ready at {escape(str(st.home))}")
    out.print(f"operator {escape(ledger.settings.operator)}, cloud {escape(ledger.cloud_label)}")
    if password is not None:
        if kept:
            out.print("The password from the URL was saved in the OS keyring, not in the config.")
        else:
            err.print(
                "[yellow]The password in the URL was not saved (no OS keyring here): "
                "set DMLEDGER_CLOUD_PASSWORD before commands that reach the cloud.[/]"
            )


@app.command()
def log(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="Handle or profile URL of the person DM'd.")],
    message: Annotated[str | None, typer.Option(help="The text that was sent.")] = None,
    template: Annotated[
        str | None, typer.Option(help="Send the team template of this name (instead of --message).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="The account it was sent from (default: from init).")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="When it was sent, ISO 8601 (default: now, UTC).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Record it even though the lead is excluded.")
    ] = False,
    client_log_id: Annotated[
        str | None, typer.Option(help="Your own id for this DM; repeating it records nothing.")
    ] = None,
) -> None:
    """Record a DM you sent. The lead is marked contacted at once; sync shares it."""
    from dmledger.cli.render import card
    from dmledger.domain.timeutil import parse_utc

    st = state(ctx)
    if (message is None) == (template is None):
        # A usage error (exit 2), as a missing required option was.
        raise typer.BadParameter("give either --message TEXT or --template NAME (one of them)")
    when = parse_utc(at) if at else None
    ledger = st.ledger()
    if template is not None:
        item, after, created = ledger.templates.log(
            to, template, actor=actor, at=when, force=force, client_log_id=client_log_id
        )
    else:
        item, after, created = ledger.log_dm(
            to, message or "", actor=actor, at=when, force=force, client_log_id=client_log_id
        )
    if st.json:
        from dmledger.app.views import RecordedDm

        recorded = RecordedDm(client_log_id=item.client_log_id, created=created, prospect=after)
        emit_json(recorded.to_dict())
        return
    out.print(("Recorded." if created else "Already recorded (same id).") + "\n" + card(after))


@app.command()
def demo(ctx: typer.Context) -> None:
    """Fill the embedded cloud with a sample team (marked as demo data) and sync it."""
    from dmledger.app.demo import load_demo

    st = state(ctx)
    ledger = st.ledger()
    counts = load_demo(ledger)
    report = ledger.sync()
    if st.json:
        emit_json({"loaded": counts, "pulled": report.pulled})
        return
    if counts["leads"]:
        out.print(
            f"Demo team loaded: {counts['operators']} operators, {counts['actors']} actors, "
            f"{counts['leads']} leads, {counts['dms']} DMs. Pulled {report.pulled} leads."
        )
    else:
        out.print(f"Demo data was already loaded. Pulled {report.pulled} changed leads.")


@app.command("api-token")
def api_token(ctx: typer.Context) -> None:
    """Print the local JSON API's bearer token (made at init)."""
    from dmledger import settings as config

    st = state(ctx)
    config.load(st.home)
    token = config.api_token(st.home)
    if st.json:
        emit_json({"token": token})
    else:
        out.print(token)


# One way to add commands: each module's register(root) adds its groups and commands.
for commands in (
    prospect_cmds,
    people_cmds,
    cloud_cmds,
    team_cmds,
    sync_cmds,
    serve_cmd,
    browser_cmds,
    today_cmds,
    repair_cmd,
):
    commands.register(app)


def main() -> None:
    """The Typer app (``dmledger.cli.main`` tries the fast ``today --json`` first)."""
    app()
