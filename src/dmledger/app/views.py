"""What the use cases return to interfaces: plain data, ready for JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dmledger.domain.records import LocalLog, Prospect, SetAside
from dmledger.domain.timeutil import format_utc


@dataclass(frozen=True)
class StatusCard:
    """The answer to "has anyone on my team messaged this person, and where do they stand?"."""

    handle: str
    known: bool
    status: str
    contacted: bool
    owner_actor: str | None
    owner_operator: str | None
    first_contacted: str | None
    last_updated: str | None
    notes: str | None
    recent_logs: list[dict[str, Any]]
    pending_sync: bool = False
    # The notes a teammate's replace overwrote without having seen them (None: none).
    notes_replaced: str | None = None
    # What sync could not apply for this lead, e.g. an edit dropped because a teammate
    # had deleted the lead; each a sentence for the writer.
    notices: list[str] = field(default_factory=list)
    # Whether ``recent_logs`` holds the team's DMs from the cloud besides this machine's:
    # "included", "unavailable" (the cloud did not answer: see team_error) or "not asked"
    # (a local-only card, e.g. the instant API check).
    team_dms: str = "not asked"
    team_error: str | None = None

    @classmethod
    def build(
        cls,
        handle: str,
        prospect: Prospect | None,
        logs: list[LocalLog],
        pending: bool,
        notices: list[str] | None = None,
    ) -> StatusCard:
        said = list(notices or [])
        if prospect is None:
            return cls(
                handle, False, "new", False, None, None, None, None, None, [], pending, None, said
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
            notes=prospect.notes,
            recent_logs=[log_view(item) for item in logs],
            pending_sync=pending,
            notes_replaced=prospect.notes_replaced,
            notices=said,
        )

    @property
    def verdict(self) -> str:
        """The one answer the card leads with: ``excluded`` (do not contact),
        ``contacted`` (someone on the team has), or ``not-contacted``."""
        if self.status == "excluded":
            return "excluded"
        if self.known and self.contacted:
            return "contacted"
        return "not-contacted"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def log_view(item: LocalLog) -> dict[str, Any]:
    return {
        "client_log_id": item.client_log_id,
        "to": item.target,
        "actor": item.actor,
        "operator": item.operator,
        "message": item.message,
        "sent_at": format_utc(item.sent_at),
        "synced": item.synced,
        "error": item.error,
        "local": True,
    }


def prospect_view(p: Prospect) -> dict[str, Any]:
    return {
        "handle": p.handle,
        "status": p.status,
        "owner_actor": p.owner_actor,
        "owner_operator": p.owner_operator,
        "notes": p.notes,
        "first_contacted": format_utc(p.first_contacted),
        "last_updated": format_utc(p.last_updated),
        "last_dm_at": format_utc(p.last_dm_at),
        "last_reply_at": format_utc(p.last_reply_at),
        "follow_up_at": format_utc(p.follow_up_at),
    }


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


@dataclass(frozen=True)
class SyncStatus:
    pending_logs: int
    pending_changes: int
    set_aside: list[SetAside]
    last_sync_at: str | None
    last_attempt_at: str | None
    last_error: str | None
    cloud_reachable: bool | None
    cloud: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["set_aside"] = [asdict(item) for item in self.set_aside]
        return data
