"""The JSON API's request and response bodies, as published in its OpenAPI document.

Times are ISO 8601 strings in UTC with a trailing ``Z``. Field names match the CLI's
``--json`` output, so a script can switch between the two.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LogOut(BaseModel):
    """One DM: recorded on this machine, or a teammate's from the cloud."""

    client_log_id: str | None
    to: str
    actor: str | None
    operator: str | None
    message: str
    sent_at: str | None
    synced: bool = Field(description="True once the cloud has it.")
    error: str | None = Field(description="Why the cloud refused it (set aside), if it did.")
    local: bool = Field(default=True, description="Recorded on this machine (else a teammate's).")


class CardOut(BaseModel):
    """The status card: has anyone on the team messaged this person, and where do they
    stand? Same fields as ``dmledger prospect show --json``."""

    handle: str
    known: bool = Field(description="False when nobody on the team has recorded the lead.")
    status: str
    contacted: bool
    owner_actor: str | None
    owner_operator: str | None
    first_contacted: str | None
    last_updated: str | None
    notes: str | None
    recent_logs: list[LogOut]
    pending_sync: bool = Field(description="Local changes to this lead wait for sync.")
    notes_replaced: str | None = Field(
        default=None,
        description="Notes a teammate's replace overwrote without having seen them.",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="What sync could not apply here, e.g. an edit dropped after a deletion.",
    )
    team_dms: str = Field(
        default="not asked",
        description='"included": recent_logs has the team\'s DMs from the cloud; '
        '"unavailable": the cloud did not answer (team_error says why); '
        '"not asked": this machine\'s DMs only.',
    )
    team_error: str | None = None


class ProspectOut(BaseModel):
    """A lead in a list (same fields as ``dmledger prospect list --json``)."""

    handle: str
    status: str
    owner_actor: str | None
    owner_operator: str | None
    notes: str | None
    first_contacted: str | None
    last_updated: str | None


class ProspectPage(BaseModel):
    """One page of leads in handle order; pass ``next_cursor`` back for the next page."""

    items: list[ProspectOut]
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
        default=None, description="When it was sent (default: now). No offset means UTC."
    )
    client_log_id: str | None = Field(
        default=None, max_length=36, description="Your id for this DM: makes retries safe."
    )
    force: bool = Field(default=False, description="Record it even if the lead is excluded.")


class OutreachOut(BaseModel):
    client_log_id: str
    created: bool = Field(description="False when this client_log_id was already recorded.")
    prospect: CardOut


class SetAsideOut(BaseModel):
    kind: str
    id: int
    target: str
    error: str
    detail: str


class SyncOut(BaseModel):
    """Sync status from the local store (no cloud round trip)."""

    pending_logs: int
    pending_changes: int
    set_aside: list[SetAsideOut]
    last_sync_at: str | None
    last_attempt_at: str | None
    last_error: str | None
    cloud_reachable: bool | None = Field(description="None: not probed by this call.")
    cloud: str
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
        default=None, description="When they answered (UTC if no offset; default now)."
    )


class ReplyOut(BaseModel):
    was_contacted: bool = Field(description="False: nobody had recorded a DM to the lead.")
    prospect: CardOut


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
