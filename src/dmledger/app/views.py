"""The output shapes every interface emits: one pydantic model per shape.

A status card, a lead, a DM, the sync status and a sync's report, a recorded DM or
reply, the follow-up rule and the pack and join reports each exist once, here. The CLI's
``--json`` (``to_dict()``), the JSON API's ``response_model`` (and so its OpenAPI
document), the native host's replies and the page templates all use these models, so
a field added or renamed here changes every interface at once. The records below
them (``domain/records.py``) are what the stores hold; these are what people and
scripts see.

Times are ISO 8601 strings in UTC with a trailing ``Z`` (a ``datetime`` given to a
time field is written so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, computed_field

from dmledger.domain.records import LocalLog, Prospect, SetAside
from dmledger.domain.timeutil import format_utc

if TYPE_CHECKING:
    from dmledger.domain.followups import FollowUpRule
    from dmledger.sync.engine import SyncReport


def _utc_text(value: object) -> object:
    return format_utc(value) if isinstance(value, datetime) else value


def _path_text(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


UtcText = Annotated[str | None, BeforeValidator(_utc_text)]
PathText = Annotated[str, BeforeValidator(_path_text)]
Verdict = Literal["not-contacted", "contacted", "excluded"]


class Shape(BaseModel):
    """An output model: read-only, built from the ledger's records by attribute."""

    # Every field is in every answer, defaults included: the OpenAPI document says so.
    model_config = ConfigDict(
        frozen=True, from_attributes=True, json_schema_serialization_defaults_required=True
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON data every interface emits for this shape."""
        return self.model_dump(mode="json")


class DmView(Shape):
    """One DM: recorded on this machine, or a teammate's from the cloud."""

    client_log_id: str | None
    to: str = Field(validation_alias=AliasChoices("to", "target"))  # a record's target
    actor: str | None
    operator: str | None
    message: str
    sent_at: UtcText
    synced: bool = Field(description="True once the cloud has it.")
    error: str | None = Field(
        default=None, description="Why the cloud refused it (set aside), if it did."
    )
    local: bool = Field(default=True, description="Recorded on this machine (else a teammate's).")

    @classmethod
    def from_log(cls, item: LocalLog) -> DmView:
        return cls.model_validate(item)


class StatusCard(Shape):
    """The status card: has anyone on the team messaged this person, and where do they
    stand? ``prospect show --json``, the API's card and the extension's card."""

    handle: str
    known: bool = Field(description="False when nobody on the team has recorded the lead.")
    status: str
    contacted: bool
    owner_actor: str | None = None
    owner_operator: str | None = None
    first_contacted: UtcText = None
    last_updated: UtcText = None
    last_reply_at: UtcText = Field(default=None, description="When the lead last answered.")
    yours: bool = Field(
        default=False, description="The owner account is one of this home's operator's."
    )
    notes: str | None = None
    recent_logs: list[DmView] = Field(default_factory=list)
    pending_sync: bool = Field(default=False, description="Local changes wait for sync.")
    notes_replaced: str | None = Field(
        default=None,
        description="Notes a teammate's replace overwrote without having seen them.",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="What sync could not apply here, e.g. an edit dropped after a deletion.",
    )
    team_dms: Literal["included", "unavailable", "not asked"] = Field(
        default="not asked",
        description='"included": recent_logs has the team\'s DMs from the cloud; '
        '"unavailable": the cloud did not answer (team_error says why); '
        '"not asked": this machine\'s DMs only.',
    )
    team_error: str | None = None

    @classmethod
    def build(
        cls,
        handle: str,
        prospect: Prospect | None,
        logs: list[LocalLog],
        pending: bool,
        notices: list[str] | None = None,
        operator: str | None = None,
    ) -> StatusCard:
        """The card of ``handle``; ``operator`` is whoever reads it (their leads are
        "yours")."""
        said = list(notices or [])
        if prospect is None:
            return cls(
                handle=handle,
                known=False,
                status="new",
                contacted=False,
                pending_sync=pending,
                notices=said,
            )
        if prospect.notes_replaced is not None:
            said.insert(
                0,
                "the notes were replaced by a teammate's edit made without seeing them; "
                "the replaced text is in notes_replaced",
            )
        return cls(
            handle=handle,
            known=True,
            status=prospect.status,
            contacted=prospect.first_contacted is not None or prospect.status != "new",
            owner_actor=prospect.owner_actor,
            owner_operator=prospect.owner_operator,
            first_contacted=format_utc(prospect.first_contacted),
            last_updated=format_utc(prospect.last_updated),
            last_reply_at=format_utc(prospect.last_reply_at),
            yours=prospect.owner_actor is not None
            and operator is not None
            and prospect.owner_operator == operator,
            notes=prospect.notes,
            recent_logs=[DmView.from_log(item) for item in logs],
            pending_sync=pending,
            notes_replaced=prospect.notes_replaced,
            notices=said,
        )

    # mypy cannot type a decorator over @property; pydantic documents this ignore.
    @computed_field(  # type: ignore[prop-decorator]
        description="What the card leads with: excluded (do not contact), contacted "
        "(someone on the team has), or not-contacted."
    )
    @property
    def verdict(self) -> Verdict:
        """The one answer every interface leads with (the Check page, the extension)."""
        if self.status == "excluded":
            return "excluded"
        if self.known and self.contacted:
            return "contacted"
        return "not-contacted"

    @computed_field(  # type: ignore[prop-decorator]
        description="The card's headline for its verdict, in the words every interface shows."
    )
    @property
    def verdict_title(self) -> str:
        return self._verdict_words()[0]

    @computed_field(  # type: ignore[prop-decorator]
        description="The sentence under the headline, without its full stop: who "
        'contacted the lead ("by ACCOUNT (OPERATOR)", or "from ACCOUNT" when it is '
        'yours; an interface adds " on" and the day of first_contacted, in the '
        "reader's time zone), or why no one is named."
    )
    @property
    def verdict_text(self) -> str:
        return self._verdict_words()[1]

    def _verdict_words(self) -> tuple[str, str]:
        """The one place the card's verdict is put into words (CLI, pages, extension)."""
        handle = f"@{self.handle}"
        verdict = self.verdict
        if verdict == "excluded":
            return "DO NOT CONTACT", f"{handle} is marked excluded. Do not send a DM"
        if verdict == "not-contacted":
            if self.known:
                return "In the ledger, not contacted yet", f"{handle} is a lead nobody has messaged"
            return (
                "Not contacted",
                f"Nobody on the team has recorded a DM to {handle} (as of the last sync)",
            )
        if self.owner_actor and self.yours:
            return "Already contacted, by you", f"from {self.owner_actor}"
        if self.owner_actor:
            operator = f" ({self.owner_operator})" if self.owner_operator else ""
            return "Already contacted", f"by {self.owner_actor}{operator}"
        if self.first_contacted:
            # A DM whose sending account was never recorded (an old import, say).
            return "Already contacted", "by an account nobody recorded"
        # No DM at all: a reply, or a status set by hand, put the lead in the pipeline.
        if self.last_reply_at:
            return (
                "Already in touch",
                f"{handle} replied, but nobody on the team has recorded a DM to them",
            )
        return (
            "Already in the pipeline",
            f"Marked {self.status}, but nobody on the team has recorded a DM to {handle}",
        )


class LeadView(Shape):
    """A lead in a list: ``prospect list --json``, ``prospect add|set --json``, the API's
    pages of leads and the Leads page's rows."""

    handle: str
    status: str
    owner_actor: str | None
    owner_operator: str | None
    notes: str | None
    first_contacted: UtcText
    last_updated: UtcText
    last_dm_at: UtcText = Field(description="The team's last DM to the lead.")
    last_reply_at: UtcText = Field(description="When the lead last answered.")
    follow_up_at: UtcText = Field(description="The next follow-up, when set by hand.")

    @classmethod
    def of(cls, prospect: Prospect) -> LeadView:
        return cls.model_validate(prospect)


class RecordedDm(Shape):
    """The answer to logging a DM: ``log --json`` and ``POST /api/v1/outreach``."""

    client_log_id: str
    created: bool = Field(description="False when this client_log_id was already recorded.")
    prospect: StatusCard


class ReplyResult(Shape):
    """The answer to recording a reply: ``reply --json`` and ``POST /api/v1/replies``."""

    was_contacted: bool = Field(description="False: nobody had recorded a DM to the lead.")
    prospect: StatusCard


class IndexBuild(Shape):
    """How far the build of a full resync's indexes is."""

    indexed: int = Field(description="Leads in the search index so far (0 until the "
                         "filter indexes are built, which come first).")  # fmt: skip
    leads: int

    @classmethod
    def of(cls, progress: tuple[int, int] | None) -> IndexBuild | None:
        return None if progress is None else cls(indexed=progress[0], leads=progress[1])


class SyncStatus(Shape):
    """The local queue and the last sync: ``status --json`` and ``GET /api/v1/sync``."""

    pending_logs: int
    pending_changes: int
    set_aside: list[SetAside]
    last_sync_at: UtcText
    last_attempt_at: UtcText
    last_error: str | None
    cloud_reachable: bool | None = Field(description="None: not probed by this call.")
    cloud: str
    indexing: IndexBuild | None = Field(
        default=None,
        description="None: the indexes are ready. Else a full resync's indexes are being "
        "built (search scans till then): how many leads the search index holds so far.",
    )


class SyncReportView(Shape):
    """What one sync moved: ``sync --json`` (and each line of ``sync --watch --json``)."""

    pushed_logs: int
    pushed_edits: int
    pulled: int
    deleted: int
    set_aside: int
    full_resync: bool
    resync_reason: str | None
    dropped: int = Field(description="Edits the cloud dropped: their lead had been deleted.")
    errors: list[str]
    indexing: bool = Field(
        default=False,
        description="The indexes of a full resync are being built in the background: "
        "search scans until they are ready.",
    )

    @classmethod
    def of(cls, report: SyncReport, *, indexing: bool = False) -> SyncReportView:
        return cls.model_validate(report).model_copy(update={"indexing": indexing})


class RuleView(Shape):
    """The team's follow-up rule: ``rules show|set --json``."""

    follow_up_after_days: int
    max_followups: int

    @classmethod
    def of(cls, rule: FollowUpRule) -> RuleView:
        return cls(follow_up_after_days=rule.after_days, max_followups=rule.max_followups)


# What a setup pack's workflows did (``onboarding.make_pack`` and ``join``), as
# their views read them.


@dataclass(frozen=True)
class PackReport:
    """What ``make_pack`` did. ``created`` is False when the user existed and only got a
    new password (agents still using the old one must join again)."""

    path: Path
    user: str
    created: bool
    backend: str
    role: str
    grants: int
    wallet_files: int


@dataclass(frozen=True)
class JoinReport:
    """What ``join`` installed. ``password_kept_in`` is ``"keyring"``, ``"file"``
    (``HOME/secrets/``) or None when the pack held no password."""

    home: Path
    operator: str
    actor: str | None
    cloud: str
    role: str
    password_kept_in: str | None
    wallet_dir: Path | None
    rejoined: bool
    sync: SyncReport


class PackView(Shape):
    """What ``team pack --json`` prints: the pack written and the database user in it."""

    pack: PathText
    user: str
    created: bool = Field(description="False: the user existed and got a new password.")
    backend: str
    role: str
    grants: int
    wallet_files: int
    join_command: str

    @classmethod
    def of(cls, report: PackReport, join_command: str) -> PackView:
        return cls.model_validate(
            vars(report) | {"pack": report.path, "join_command": join_command}
        )


class JoinView(Shape):
    """What ``join --json`` prints: the home installed, and what its first sync pulled."""

    home: PathText
    operator: str
    actor: str | None
    cloud: str
    role: str
    password_kept_in: str | None
    wallet_dir: PathText | None
    rejoined: bool
    pulled: int

    @classmethod
    def of(cls, report: JoinReport) -> JoinView:
        return cls.model_validate(vars(report) | {"pulled": report.sync.pulled})


@dataclass
class ImportReport:
    """The outcome of a CSV import: counts, and each invalid line with its reason."""

    added: int = 0
    known: int = 0
    duplicates_in_file: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, reason)
    rows: int = 0
    # How the file was read, so a person can tell it was read the way they meant.
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True  # False: the first row was data
    columns_used: list[str] = field(default_factory=list)  # the handle column first
    ignored_columns: list[str] = field(default_factory=list)
    actors_added: list[str] = field(default_factory=list)  # import-logs --add-actors

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "added": self.added,
            "already_known": self.known,
            "duplicates_in_file": self.duplicates_in_file,
            "invalid": [
                {"line": line, "value": value, "reason": reason}
                for line, value, reason in self.invalid
            ],
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header_row": self.header,
            "columns_used": self.columns_used,
            "ignored_columns": self.ignored_columns,
            "actors_added": self.actors_added,
        }

    def how_read(self) -> str:
        """One sentence: encoding, delimiter, header, the columns used and ignored."""
        separated = {",": "comma", ";": "semicolon", "\t": "tab"}.get(self.delimiter, "?")
        text = f"read as {self.encoding}, {separated}-separated, "
        text += "with a header row" if self.header else "no header row (the first row is data)"
        if self.columns_used:
            text += f"; columns used: {', '.join(self.columns_used)}"
        if self.ignored_columns:
            text += f"; ignored: {', '.join(self.ignored_columns)}"
        if self.actors_added:
            text += f"; accounts registered: {', '.join(self.actors_added)}"
        return text


class RepairView(Shape):
    """What ``dmledger repair [--check] --json`` prints."""

    damaged: bool = Field(description="Was the store damaged (or not a DM Ledger store)?")
    problems: list[str] = Field(description="What the check found, for a person.")
    checked_only: bool
    moved_to: str | None = Field(description="Where the damaged file was moved, or null.")
    salvaged: int = Field(description="Queued items read from the damaged file.")
    from_backup: int = Field(description="Queued items added from the newest backup.")
    lost: int = Field(description="Queued items known to be unreadable (see lost_items).")
    lost_items: list[str]
    uncounted: list[str] = Field(
        description="Losses that cannot be counted (a missing write-ahead log, a file "
        "with no readable queue), said for a person; empty when every loss is counted."
    )
    unreadable: list[str] = Field(description="Pages and rows of the damaged file not read.")
    backup: str | None = Field(description="The backup whose rows were added, or null.")
    details: dict[str, dict[str, int]] = Field(
        description="Per kind (dms, edits, team_changes): salvaged, from_backup, lost."
    )
    resynced: bool = Field(description="Was the cache read again from the cloud?")
    resync_error: str | None
