"""``team pack`` (the team lead) and ``join`` (a new teammate): setup packs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from dmledger.cli import render
from dmledger.cli.render import escape
from dmledger.cli.state import emit_json, err, out, progress_bar, state
from dmledger.homedir import DEFAULT_PACK_USER

app = typer.Typer(
    help="Bring teammates in: encrypted setup packs with least-privilege credentials.",
    no_args_is_help=True,
)


def _passphrase(*, confirm: bool) -> str:
    """From DMLEDGER_PACK_PASSPHRASE (scripts), else asked with hidden input."""
    from dmledger import settings as config

    given = config.pack_passphrase()
    if given is not None:
        return given
    answer: str = typer.prompt(
        "Pack passphrase" if not confirm else "Choose a passphrase for the pack",
        hide_input=True,
        confirmation_prompt=confirm,
        err=True,
    )
    return answer


@app.command("pack")
def pack(
    ctx: typer.Context,
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Where to write the pack, e.g. team.dmlpack. Nothing secret in the name.",
        ),
    ],
    role: Annotated[str, typer.Option(help="The database role teammates get: operator.")] = (
        "operator"
    ),
    user: Annotated[
        str,
        typer.Option(
            help="The database user for the teammates' agents; created if missing, "
            "else given a new password."
        ),
    ] = DEFAULT_PACK_USER,
) -> None:
    """Make an encrypted setup pack for a new teammate (PostgreSQL or Oracle cloud).

    Creates the database user (or resets its password), grants it only what an agent
    needs, and writes the pack. Asks for a passphrase twice (or reads
    DMLEDGER_PACK_PASSPHRASE); send the pack and the passphrase by different channels.
    """
    st = state(ctx)
    ledger = st.ledger()
    from dmledger.app.onboarding import ensure_shareable, make_pack

    ensure_shareable(ledger)  # before asking for a passphrase that would be wasted
    report = make_pack(ledger, out_file, _passphrase(confirm=True), role=role, user=user)
    command = f"dmledger join {shlex.quote(out_file.name)} --operator NAME --actor ACCOUNT"
    if st.json:
        from dmledger.app.views import PackView

        emit_json(PackView.of(report, command).to_dict())
        return
    what = "created" if report.created else "already existed: its password was reset"
    out.print(f"Setup pack written to {escape(str(report.path))}.")
    out.print(
        f"Database user {escape(report.user)} {what}; role {escape(report.role)} "
        f"({report.grants} grants)."
    )
    if not report.created:
        err.print(
            f"[yellow]Agents that joined with an older pack for {escape(report.user)} "
            "cannot reach the cloud until they join again with this one.[/]"
        )
    out.print(
        "Send the pack to your teammate, and the passphrase another way (say it, or use "
        "another app). They run, with their name and Instagram account:"
    )
    out.print(f"  {escape(command)}")


def register(root: typer.Typer) -> None:
    """``team …`` and ``join``."""
    root.add_typer(app, name="team")

    @root.command("join")
    def join(
        ctx: typer.Context,
        pack_file: Annotated[Path, typer.Argument(help="The setup pack from your team lead.")],
        operator: Annotated[
            str | None, typer.Option(help="Your name on the team, e.g. Nadia.")
        ] = None,
        actor: Annotated[
            str | None,
            typer.Option(help="The Instagram account you send DMs from (used by `log`)."),
        ] = None,
    ) -> None:
        """Join your team: install a setup pack into this home, register you, and sync.

        Asks for the pack's passphrase (or reads DMLEDGER_PACK_PASSPHRASE). A wrong
        passphrase or a damaged pack is refused and nothing is written.
        """
        from dmledger import settings as config
        from dmledger.app.onboarding import join as join_team

        st = state(ctx)
        passphrase = _passphrase(confirm=False)
        if st.json:
            report = join_team(st.home, pack_file, passphrase, operator=operator, actor=actor)
        else:
            with progress_bar("first sync") as bar:
                task = bar.add_task("pull", total=None)
                report = join_team(
                    st.home,
                    pack_file,
                    passphrase,
                    operator=operator,
                    actor=actor,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        if st.json:
            from dmledger.app.views import JoinView

            emit_json(JoinView.of(report).to_dict())
            return
        out.print(
            f"Joined {escape(report.cloud)} as {escape(report.operator)} "
            f"(role {escape(report.role)}); home {escape(str(report.home))}."
        )
        if report.password_kept_in == "keyring":
            out.print("The database password is in the OS keyring.")
        elif report.password_kept_in == "file":
            out.print(
                "No OS keyring here: the database password is in "
                f"{escape(str(report.home / config.SECRETS_DIR))}, readable only by you."
            )
        out.print(render.sync_report(report.sync))
        hint = "" if report.actor else " --actor ACCOUNT"
        out.print(f"Log a DM with: dmledger log --to HANDLE --message TEXT{hint}")
