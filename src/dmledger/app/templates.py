"""The team's saved messages (team-wide, kept in the cloud), read from this home's copy.

Adding or deleting one changes the copy at once and queues the change, which is shared
with the cloud at once when it answers, else at the next sync (it works offline);
every sync refreshes the copy when the team's templates changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from dmledger.domain.records import OutgoingLog, TeamEdit
from dmledger.domain.templates import check_template, render_template
from dmledger.domain.text import validate_name
from dmledger.errors import NotFound
from dmledger.local import cached_templates

from .views import StatusCard

if TYPE_CHECKING:
    from dmledger.local import LocalStore

    from .context import Context


@dataclass(frozen=True)
class Template:
    name: str
    text: str


class LogDm(Protocol):
    """``Ledger.log_dm``: what records a DM, templates' or not."""

    def __call__(
        self,
        to: str,
        message: str,
        *,
        actor: str | None,
        at: datetime | None,
        force: bool,
        client_log_id: str | None,
        template: str | None,
    ) -> tuple[OutgoingLog, StatusCard, bool]: ...


class Templates:
    """The team's templates for one home: read from the local copy; a change goes
    through ``change_team`` (``FollowUps.change_team``), a DM from one through
    ``log_dm``."""

    def __init__(
        self,
        context: Context,
        local: LocalStore,
        change_team: Callable[[list[TeamEdit]], bool],
        log_dm: LogDm,
    ) -> None:
        self.context = context
        self.local = local
        self._change_team = change_team
        self._log_dm = log_dm

    def add(self, name: str, text: str) -> tuple[Template, bool]:
        """Add or replace a template; refuses an unknown placeholder, naming it. Returns
        the template and whether it is new."""
        clean_name, clean_text = check_template(name, text)
        new = all(t.name != clean_name for t in self.list())
        operator = self.context.operator
        self._change_team([TeamEdit(0, "template", clean_name, clean_text, operator)])
        return Template(clean_name, clean_text), new

    def delete(self, name: str) -> None:
        """Delete a template from this home's copy and the team's; NotFound when the copy
        has none of that name."""
        clean_name = validate_name(name, "template name")
        self.get(clean_name)  # NotFound, naming the templates there are
        operator = self.context.operator
        self._change_team([TeamEdit(0, "template_delete", clean_name, None, operator)])

    def list(self) -> list[Template]:
        with self.local.reading() as conn:
            return [Template(n, t) for n, t in cached_templates(conn).items()]

    def get(self, name: str) -> Template:
        clean_name = validate_name(name, "template name")
        for template in self.list():
            if template.name == clean_name:
                return template
        raise NotFound(self._unknown(clean_name))

    def _unknown(self, name: str) -> str:
        known = ", ".join(t.name for t in self.list()) or "none yet"
        return (
            f"template {name!r} does not exist (the team's templates: {known}); "
            "add it with `dmledger template add`"
        )

    def log(
        self,
        to: str,
        name: str,
        *,
        actor: str | None = None,
        at: datetime | None = None,
        force: bool = False,
        client_log_id: str | None = None,
    ) -> tuple[OutgoingLog, StatusCard, bool]:
        """Render a template for the lead and record it as a DM that remembers it."""
        from dmledger.domain.handles import normalize_handle

        template = self.get(name)
        handle = normalize_handle(to)
        sender = self.context.actor(actor)
        message = render_template(
            template.text, handle=handle, actor=sender, operator=self.context.operator
        )
        return self._log_dm(
            handle,
            message,
            actor=sender,
            at=at,
            force=force,
            client_log_id=client_log_id,
            template=template.name,
        )
