"""The JSON API's request bodies and the answers only the API gives.

Every shape the CLI's ``--json`` emits too (the card, a lead, a DM, the sync status) is
the one model in ``dmledger.app.views``, used here as is, so the two cannot drift apart.
Today is the exception: ``dmledger today`` builds its list without pydantic (start-up
time), so ``TodayOut`` declares that shape for the API; a test checks the two agree.
Times are ISO 8601 strings in UTC with a trailing ``Z``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from dmledger.app.views import LeadView, SyncStatus
from dmledger.domain.timeutil import EVENT_FLOOR, FUTURE_SKEW

_EVENT_RANGE = f"From {EVENT_FLOOR:%Y-%m-%d} to {FUTURE_SKEW.seconds // 60} minutes ahead of now."


class ProspectPage(BaseModel):
    """One page of leads in handle order; pass ``next_cursor`` back for the next page."""

    items: list[LeadView]
    next_cursor: str | None = Field(description="None on the last page.")


class ProspectPatch(BaseModel):
    """What to change on a lead; at least one field."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(
        default=None, max_length=50, description="new, contacted, cold, warm, hot, …"
    )
    notes: str | None = Field(default=None, max_length=20_000, description="Replaces the notes.")
    append_note: str | None = Field(
        default=None, max_length=20_000, description="Adds a dated line to the notes."
    )


class OutreachIn(BaseModel):
    """A DM that was sent. Repeating the same ``client_log_id`` records nothing new."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=500, description="Handle, @handle or profile URL.")
    message: str = Field(max_length=20_000)
    actor: str | None = Field(
        default=None, max_length=100, description="Sending account (default: from init)."
    )
    sent_at: datetime | None = Field(
        default=None,
        description=f"When it was sent (default: now). No offset means UTC. {_EVENT_RANGE}",
    )
    client_log_id: str | None = Field(
        default=None, max_length=36, description="Your id for this DM: makes retries safe."
    )
    force: bool = Field(default=False, description="Record it even if the lead is excluded.")


class SyncOut(SyncStatus):
    """Sync status from the local store (no cloud round trip), and the background loop."""

    loop_running: bool
    next_attempt_in_s: float | None


class SyncRequested(BaseModel):
    requested: bool
    message: str


class ErrorBody(BaseModel):
    type: str
    message: str = Field(description="Names the value and the rule it broke.")


class ErrorOut(BaseModel):
    error: ErrorBody


class ReplyIn(BaseModel):
    """A reply: when the lead answered (never what they wrote)."""

    handle: str = Field(max_length=500, description="Handle, @handle or profile URL.")
    replied_at: datetime | None = Field(
        default=None,
        description=f"When they answered (UTC if no offset; default now). {_EVENT_RANGE}",
    )
    reply_id: str | None = Field(
        default=None,
        max_length=36,
        description="Your id for this reply: sending the same one again records nothing new.",
    )


class TodayItemOut(BaseModel):
    handle: str
    status: str
    owner_actor: str | None
    owner_operator: str | None
    due_at: str
    overdue_days: int
    followups_sent: int
    last_dm_at: str | None
    days_since_last_dm: int | None
    last_message: str | None
    set_by_hand: bool


class TodayOut(BaseModel):
    """The follow-ups due now, most overdue first (from the local store)."""

    now: str
    total: int = Field(description="How many are due, counted up to 10,000.")
    total_capped: bool = Field(description="True: more than `total` are due.")
    rule: dict[str, int]
    items: list[TodayItemOut]
