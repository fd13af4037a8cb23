"""Replies, follow-up dates, the Today list and the team's follow-up rule.

Replies and follow-up dates are journal edits (offline first, exactly once: a reply
carries a client-made id the cloud keeps unique). The rule and the templates are
team-wide: a change applies here at once, is queued (``team_outbox``), and reaches the
cloud at once when it answers, else at the next sync; every home reads them back at its
next sync. The due list is computed from the local cache, so Today works offline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dmledger.domain.followups import (
    FollowUpRule,
    parse_days,
    parse_follow_up,
    rule_values,
)
from dmledger.domain.handles import normalize_handle
from dmledger.domain.records import Edit, Prospect, TeamEdit
from dmledger.domain.timeutil import check_event_time
from dmledger.errors import CloudUnavailable, InvalidInput, NotFound, Refused, SyncBusy
from dmledger.local import apply_edit_to_cache, iso, pending_team_edits, queue_team_edit

from .outgoing import client_made_id
from .today import TODAY_LIMIT_DEFAULT, Today, TodayQuery, build_today
from .views import ReplyResult

if TYPE_CHECKING:
    from dmledger.local import LocalStore

    from .context import Context
    from .views import StatusCard


class FollowUps:
    """Replies, follow-up dates, the Today list and the team's rule, for one home.

    ``card`` is the status card of a lead (a reply answers with it); ``share`` pushes
    the queued changes to the team's templates and rule now (the sync's hook for it),
    returning the errors the cloud gave."""

    def __init__(
        self,
        context: Context,
        local: LocalStore,
        card: Callable[[str], StatusCard],
        share: Callable[[], Sequence[str]],
    ) -> None:
        self.context = context
        self.local = local
        self._card = card
        self._share = share

    # -- replies ----------------------------------------------------------------------

    def reply(
        self, raw_handle: str, *, at: datetime | None = None, reply_id: str | None = None
    ) -> ReplyResult:
        """Record that the lead answered (when, never what). ``contacted`` (or new, cold)
        becomes ``warm``; the follow-up clock stops. A lead nobody contacted is added.

        ``reply_id`` is the client's id for this reply (a card's button pressed twice,
        a form sent twice): a reply with an id already queued here records nothing new,
        and the cloud keeps one reply per id whenever it arrives."""
        handle = normalize_handle(raw_handle)
        ref = client_made_id(reply_id, "reply_id")
        now = self.context.now()
        # A time given passes the rule; this machine's own clock is not refused.
        when = now if at is None else check_event_time(at, now, "reply time")
        with self.local.transaction() as conn:
            current = self.local.get_prospect(conn, handle)
            was_contacted = current is not None and (
                current.first_contacted is not None or current.dm_count > 0
            )
            queued_for = self.local.queued_edit_target(conn, "reply", ref)
            if queued_for is not None and queued_for != handle:
                raise InvalidInput(
                    f"reply_id {ref!r} is already the id of a reply from {queued_for}: "
                    "each reply needs an id of its own"
                )
            if queued_for is None:
                if current is None:
                    self.local.put_prospect(conn, Prospect(handle, "new"))
                    self.local.enqueue_edit(conn, "add", handle, status="new", at=now)
                self.local.enqueue_edit(conn, "reply", handle, at=when, ref=ref)
                apply_edit_to_cache(self.local, conn, Edit(0, "reply", handle, at=when, ref=ref))
        return ReplyResult(was_contacted=was_contacted, prospect=self._card(handle))

    # -- follow-up dates --------------------------------------------------------------

    def set_follow_up(self, raw_handle: str, raw: str) -> Prospect:
        """Set the next follow-up by hand (``YYYY-MM-DD``, ``+Nd``) or clear it (``none``)."""
        handle = normalize_handle(raw_handle)
        return self._set_date(handle, parse_follow_up(raw, self.context.now()))

    def snooze(self, raw_handle: str, raw_duration: str = "1d") -> Prospect:
        """Not today: due again after the given number of days from now."""
        handle = normalize_handle(raw_handle)
        days = parse_days(raw_duration, "snooze")
        if not 1 <= days <= 365:
            raise InvalidInput(f"snooze {raw_duration!r} is out of range: 1d to 365d")
        return self._set_date(handle, self.context.now() + timedelta(days=days))

    def _set_date(self, handle: str, when: datetime | None) -> Prospect:
        with self.local.transaction() as conn:
            if self.local.get_prospect(conn, handle) is None:
                raise NotFound(f"{handle!r} is not in the ledger: add it with `prospect add`")
            edit = Edit(0, "follow_up", handle, ref=iso(when))
            self.local.enqueue_edit(conn, "follow_up", handle, at=self.context.now(), ref=edit.ref)
            apply_edit_to_cache(self.local, conn, edit)
            updated = self.local.get_prospect(conn, handle)
        assert updated is not None
        return updated

    # -- Today ------------------------------------------------------------------------

    def today(
        self,
        *,
        actor: str | None = None,
        operator: str | None = None,
        limit: int = TODAY_LIMIT_DEFAULT,
    ) -> Today:
        """The follow-ups due now, most overdue first, from this home's cache."""
        query = TodayQuery.of(actor, operator, limit)
        now = self.context.now()
        with self.local.driver_reading() as raw:
            # The same statements `dmledger today` runs without a Ledger (app/today.py).
            return build_today(raw, now, query)

    # -- the team's rule --------------------------------------------------------------

    def rule(self) -> FollowUpRule:
        """The rule as this home last read it from the cloud (works offline)."""
        with self.local.reading() as conn:
            return self.local.follow_up_rule(conn)

    def set_rule(self, after: str, max_followups: int | None = None) -> FollowUpRule:
        """Set the team's rule: here at once (every due time follows), queued for the
        cloud, and shared now when it answers (:meth:`change_team`)."""
        current = self.rule()
        rule = FollowUpRule(
            parse_days(after, "follow-up-after"),
            current.max_followups if max_followups is None else max_followups,
        )
        operator = self.context.operator
        self.change_team(
            [TeamEdit(0, "rule", key, value, operator) for key, value in rule_values(rule).items()]
        )
        return rule

    # -- changes to the team's templates and rule ----------------------------------------

    def change_team(self, edits: list[TeamEdit]) -> bool:
        """Apply changes to the team's templates or rule here (offline too), queue them
        for the cloud, and share them at once if it answers. Returns whether they reached
        it (False: they wait for the next sync, which pushes them before the journal;
        the last one to reach the cloud wins). Refused, and gone from here too, when the
        cloud will not take them (a role without the right)."""
        now = self.context.now()
        with self.local.transaction() as conn:
            for edit in edits:
                queue_team_edit(self.local, conn, edit, now)
        return self.share_team_edits()

    def share_team_edits(self) -> bool:
        """Push the queued changes to the team's templates and rule now, and read the
        team's back; False when the cloud does not answer or a sync runs (which pushes
        them itself)."""
        try:
            errors = self._share()
        except (CloudUnavailable, SyncBusy):
            return False
        if errors:
            raise Refused(errors[0])
        return True

    def team_edits_waiting(self) -> int:
        """How many changes to the team's templates and rule wait for a sync."""
        with self.local.reading() as conn:
            return len(pending_team_edits(conn))
