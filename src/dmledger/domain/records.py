"""Plain records that cross layer boundaries: what is pushed, pulled and shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

EditOp = Literal["add", "status", "notes", "append", "delete", "reply", "follow_up"]


@dataclass(frozen=True)
class DmFacts:
    """Who sent what to which lead, and when: what every record of a DM holds.
    ``sent_at`` is UTC from the sender's clock."""

    client_log_id: str
    target: str
    actor: str
    operator: str
    message: str
    sent_at: datetime


@dataclass(frozen=True)
class OutgoingLog(DmFacts):
    """One queued DM, as pushed to the cloud."""

    local_id: int = 0
    template: str | None = None  # the template the message came from


@dataclass(frozen=True)
class Edit:
    """One queued prospect edit from the outbox, pushed in journal order.

    ``notes`` is the new notes (``notes``), the line to merge in (``append``) or the
    notes of a new lead (``add``); ``base`` is the notes its writer saw before a
    ``notes`` replace. ``after_log`` is the highest local DM id when the edit was made:
    the edit goes after those DMs and before later ones. ``at`` is the corrected time
    (for a ``reply``, when the lead answered). ``ref`` is a reply's client-made id, or a
    ``follow_up``'s date (ISO 8601, None to clear it).
    """

    seq: int
    op: EditOp
    target: str
    status: str | None = None
    notes: str | None = None
    base: str | None = None
    after_log: int = 0
    at: datetime | None = None
    ref: str | None = None


@dataclass(frozen=True, kw_only=True)
class LeadFacts:
    """What the team knows of a lead besides its handle and status: the fields a row
    pulled from the cloud and a lead in the local cache share (times are naive UTC)."""

    owner_actor: str | None = None
    owner_operator: str | None = None
    notes: str | None = None
    first_contacted: datetime | None = None
    last_updated: datetime | None = None
    notes_replaced: str | None = None  # a teammate's replace overwrote this text
    last_dm_at: datetime | None = None  # the team's last DM to the lead
    last_reply_at: datetime | None = None
    follow_up_at: datetime | None = None  # set by hand
    last_message: str | None = None  # the team's last DM text to the lead


class PulledRow(NamedTuple):
    """A prospect change (``kind`` "P") or a deletion (``kind`` "T") from the cloud.

    A named tuple, not a ``LeadFacts`` dataclass: a full resync makes a million of them,
    and a tuple is built from the driver's row in one step, so its fields are in the
    pull's column order. It holds every field of ``LeadFacts`` (a test keeps them so),
    its times as the text the cache stores (``timeutil.iso``, made by the cloud's
    query), so they go to SQLite as they came."""

    kind: Literal["P", "T"]
    handle: str
    version: int
    status: str | None = None
    owner_actor: str | None = None
    owner_operator: str | None = None
    notes: str | None = None
    first_contacted: str | None = None
    last_updated: str | None = None
    notes_replaced: str | None = None
    last_dm_at: str | None = None
    dm_count: int | None = None
    last_reply_at: str | None = None
    follow_up_at: str | None = None
    last_message: str | None = None


@dataclass(frozen=True)
class ActorRow:
    username: str
    owner_operator: str | None
    status: str


@dataclass(frozen=True)
class CloudHeader:
    """What one cheap query tells a sync before it pulls."""

    version: int
    purged_through: int
    operators: tuple[str, ...] = ()
    actors: tuple[ActorRow, ...] = ()
    prospect_count: int | None = None
    now: datetime | None = None  # the cloud database's clock (UTC) when it answered
    cloud_id: str | None = None  # dmledger_info.cloud_id: new after every reset
    schema_version: int | None = None
    team_version: str | None = None  # changes whenever the team's rules or templates do


@dataclass(frozen=True)
class TeamConfig:
    """The team's follow-up rule and templates, as the cloud holds them."""

    rules: dict[str, str]
    templates: dict[str, str]
    version: str | None = None


TeamEditOp = Literal["template", "template_delete", "rule"]


@dataclass(frozen=True)
class TeamEdit:
    """A queued change to the team's templates or rule, made on this home (offline too)
    and pushed at the next sync: ``template`` puts ``text`` under ``name``,
    ``template_delete`` removes ``name``, ``rule`` sets the rule key ``name`` to ``text``.
    Last writer at the cloud wins, as for a lead's status."""

    seq: int
    op: TeamEditOp
    name: str
    text: str | None = None
    operator: str | None = None  # who made it (a template's author at the cloud)


@dataclass(frozen=True)
class Cursor:
    """Keyset position in the cloud's (row_version, target_username) order."""

    version: int = -1
    handle: str = ""


@dataclass
class CloudInfo:
    """What `cloud check` reports."""

    url: str
    backend: str
    reachable: bool
    schema_version: int | None = None
    round_trip_ms: float | None = None
    server_version: str | None = None
    demo_data: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class Prospect(LeadFacts):
    """A lead as the local cache holds it."""

    handle: str
    status: str
    row_version: int | None = None
    dm_count: int = 0  # the team's DMs to the lead


@dataclass(frozen=True)
class LocalLog(DmFacts):
    """A DM as this machine recorded it."""

    id: int
    synced: bool
    error: str | None = None


@dataclass(frozen=True)
class SetAside:
    """A queued item the cloud refused; it waits for the user's decision."""

    kind: Literal["log", "edit"]
    id: int
    target: str
    error: str
    detail: str = ""
