"""``reply``, ``today``, ``rules …`` and ``template …``: the setter's day after the first DM."""

from __future__ import annotations

from typing import Annotated

import typer

from dmledger.app.today import TODAY_LIMIT_DEFAULT as LIMIT_DEFAULT
from dmledger.cli.render import card, escape
from dmledger.cli.state import emit_json, err, out, state

rules_app = typer.Typer(
    help="The team's follow-up rule (kept in the cloud, copied to every home).",
    no_args_is_help=True,
)
template_app = typer.Typer(
    help="The team's saved messages (kept in the cloud, copied to every home).",
    no_args_is_help=True,
)


def reply(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="Handle, @handle or profile URL of who answered.")],
    at: Annotated[
        str | None, typer.Option(help="When they answered, ISO 8601 (default: now, UTC).")
    ] = None,
) -> None:
    """Record that a lead answered (when, never what). contacted becomes warm; the
    follow-up clock stops. Works offline; sync shares it exactly once."""
    from dmledger.domain.timeutil import parse_utc

    st = state(ctx)
    result = st.ledger().followups.reply(handle, at=parse_utc(at) if at else None)
    if st.json:
        emit_json(result.to_dict())
        return
    if not result.was_contacted:
        err.print(
            f"Note: nobody on the team had recorded a DM to {escape(result.prospect.handle)}; "
            "the reply is recorded and the lead added."
        )
    out.print("Reply recorded.\n" + card(result.prospect))


def today(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="Only leads owned by this account.")] = None,
    operator: Annotated[
        str | None, typer.Option(help="Only leads owned by this teammate's accounts.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-1000).")] = LIMIT_DEFAULT,
) -> None:
    """The follow-ups due now, most overdue first (from this home's copy: works offline).
    Log one with `dmledger log --to HANDLE`; put one off with `prospect set HANDLE --snooze 1d`."""
    from dmledger.app.quick_today import read_today

    st = state(ctx)
    # The cache alone, without a Ledger: this command is bound by its start-up time.
    result = read_today(st.home, actor=actor, operator=operator, limit=limit)
    if st.json:
        emit_json(result.to_dict())
        return
    rule = result.rule
    if not result.items:
        out.print(
            "Nothing due today. (Rule: follow up "
            f"{rule.after_days} days after the last DM, at most {rule.max_followups} times.)"
        )
        return
    from rich.table import Table

    table = Table(
        "handle", "account", "due", "overdue", "since last DM", "follow-ups", "last message"
    )
    for item in result.items:
        table.add_row(
            escape(item["handle"]),
            escape(item["owner_actor"] or "-"),
            item["due_at"],
            f"{item['overdue_days']} d",
            "-" if item["days_since_last_dm"] is None else f"{item['days_since_last_dm']} d",
            str(item["followups_sent"]),
            escape((item["last_message"] or "")[:60]),
        )
    out.print(table)
    if result.total > len(result.items):
        total = result.to_dict()
        more = f"{total['total']:,}" + ("+" if total["total_capped"] else "")
        out.print(f"{len(result.items)} of {more} due shown: raise --limit for more.")


@rules_app.command("show")
def rules_show(ctx: typer.Context) -> None:
    """The team's follow-up rule, as this home last read it."""
    st = state(ctx)
    rule = st.ledger().followups.rule()
    if st.json:
        from dmledger.app.views import RuleView

        emit_json(RuleView.of(rule).to_dict())
        return
    out.print(
        f"follow-up-after {rule.after_days}d, at most {rule.max_followups} follow-ups "
        "(a reply or a booked, client, rejected or excluded status stops them)"
    )


@rules_app.command("set")
def rules_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The rule: follow-up-after.")],
    days: Annotated[str, typer.Argument(help="How long after the last DM, e.g. 2d.")],
    max_followups: Annotated[
        int | None, typer.Option("--max", help="At most this many follow-ups (0-20).")
    ] = None,
) -> None:
    """Set the team's follow-up rule: here at once, in the cloud now or, offline, at the
    next sync (every home gets it at its next sync after that)."""
    from dmledger.errors import InvalidInput

    if name != "follow-up-after":
        raise InvalidInput(f"rule {name!r} does not exist: the rule is follow-up-after")
    st = state(ctx)
    ledger = st.ledger()
    rule = ledger.followups.set_rule(days, max_followups)
    waiting = ledger.followups.team_edits_waiting()
    if st.json:
        from dmledger.app.views import RuleView

        emit_json({**RuleView.of(rule).to_dict(), "shared": not waiting})
        return
    out.print(f"Rule set: follow-up-after {rule.after_days}d, --max {rule.max_followups}.")
    _say_queued(waiting)


@template_app.command("add")
def template_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A short name, e.g. intro.")],
    text: Annotated[
        str, typer.Option(help="The message; placeholders {handle}, {actor}, {operator}.")
    ],
) -> None:
    """Add (or replace) a team template: here at once, in the cloud now or, offline, at
    the next sync."""
    st = state(ctx)
    ledger = st.ledger()
    template, new = ledger.templates.add(name, text)
    waiting = ledger.followups.team_edits_waiting()
    if st.json:
        emit_json(
            {"name": template.name, "text": template.text, "created": new, "shared": not waiting}
        )
        return
    out.print(f"Template {escape(template.name)} " + ("added." if new else "replaced."))
    _say_queued(waiting)


@template_app.command("list")
def template_list(ctx: typer.Context) -> None:
    """The team's templates (this home's copy)."""
    st = state(ctx)
    templates = st.ledger().templates.list()
    if st.json:
        emit_json([{"name": t.name, "text": t.text} for t in templates])
        return
    if not templates:
        out.print("No templates yet: add one with `dmledger template add NAME --text TEXT`.")
        return
    from rich.table import Table

    table = Table("name", "text")
    for t in templates:
        table.add_row(escape(t.name), escape(t.text))
    out.print(table)


@template_app.command("show")
def template_show(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The template's name.")]
) -> None:
    """One template's text."""
    st = state(ctx)
    template = st.ledger().templates.get(name)
    if st.json:
        emit_json({"name": template.name, "text": template.text})
        return
    out.print(escape(template.text))


@template_app.command("delete")
def template_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The template's name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the deletion.")] = False,
) -> None:
    """Delete a team template, here and (now or at the next sync) in the cloud; DMs
    already logged keep its name."""
    from dmledger.errors import Refused

    if not yes:
        raise Refused(f"deleting template {name!r} needs --yes")
    st = state(ctx)
    ledger = st.ledger()
    ledger.templates.delete(name)
    waiting = ledger.followups.team_edits_waiting()
    if st.json:
        emit_json({"name": name, "deleted": True, "shared": not waiting})
        return
    out.print(f"Template {escape(name)} deleted.")
    _say_queued(waiting)


def _say_queued(waiting: int) -> None:
    if waiting:
        err.print(
            f"[yellow]The cloud did not answer: {waiting} team change(s) wait here and are "
            "shared at the next sync.[/]"
        )


def register(app: typer.Typer) -> None:
    app.command()(reply)
    app.command()(today)
    app.add_typer(rules_app, name="rules")
    app.add_typer(template_app, name="template")
