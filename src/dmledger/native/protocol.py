"""The messages between the extension and the host, validated both ways.

A request is ``{"id": N, "type": "...", ...}``; the reply carries the same ``id`` and
either ``"ok": true`` with the result or ``"ok": false`` with
``{"error": {"type", "message", "fix"}}``. ``type`` is the name of the DM Ledger error
(``ExcludedProspect``, ``ConfigError``, …) or one of the host's own: ``malformed``,
``too_large``, ``busy``, ``internal``. ``fix`` is the command or step that fixes it,
when there is one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from dmledger.app.views import StatusCard

RequestId = Annotated[int, Field(ge=0, le=2**53)]
HandleText = Annotated[str, Field(min_length=1, max_length=500)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: RequestId


class Hello(_Request):
    """Who this home is: the setter's own accounts (never shown a card) and the statuses."""

    type: Literal["hello"]


class GetCard(_Request):
    """The card from the local store; with ``team``, its last DMs include the team's
    from the cloud (``Ledger.card(team=True)``), answered from a thread of its own so
    a slow or unreachable cloud delays nothing else."""

    type: Literal["card"]
    handle: HandleText
    team: bool = False


class LogDm(_Request):
    type: Literal["log_dm"]
    handle: HandleText
    message: Annotated[str, Field(max_length=20_000)]
    actor: Annotated[str | None, Field(max_length=100)] = None
    force: bool = False
    client_log_id: Annotated[str | None, Field(max_length=36)] = None


class SetStatus(_Request):
    type: Literal["set_status"]
    handle: HandleText
    status: Annotated[str, Field(min_length=1, max_length=50)]


class AddNote(_Request):
    type: Literal["add_note"]
    handle: HandleText
    note: Annotated[str, Field(min_length=1, max_length=4000)]


class RecordReply(_Request):
    """The lead answered (when: now; never what): ``FollowUps.reply``, the use case of
    ``dmledger reply``. A lead nobody contacted is added, and the reply says so."""

    type: Literal["reply"]
    handle: HandleText
    reply_id: Annotated[str | None, Field(max_length=36)] = None  # the card's, per page shown


class AddActor(_Request):
    """Register the account signed in on the page as one of this teammate's accounts:
    ``Ledger.add_actor``, the use case of ``dmledger actor add`` (same rule, same
    errors). The reply carries ``hello`` again, so the card sees the account at once."""

    type: Literal["add_actor"]
    actor: Annotated[str, Field(min_length=1, max_length=100)]


AnyRequest = Hello | GetCard | LogDm | SetStatus | AddNote | RecordReply | AddActor


class Request(BaseModel):
    """Any request, told apart by ``type``."""

    body: Annotated[AnyRequest, Field(discriminator="type")]


class HelloResult(BaseModel):
    operator: str
    actor: str | None = Field(description="The sending account preselected in the card.")
    own_actors: list[str] = Field(description="This operator's accounts: never a lead.")
    actors: list[str] = Field(description="Accounts the card offers as the sender.")
    owners: dict[str, str | None] = Field(
        default_factory=dict, description="Who owns each of ``actors`` (the teammate's name)."
    )
    statuses: list[str]


class ErrorBody(BaseModel):
    type: str
    message: str
    fix: str | None = None


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: RequestId | None
    ok: bool
    card: StatusCard | None = None  # the one card model: the CLI's and the API's too
    hello: HelloResult | None = None
    created: bool | None = None
    was_contacted: bool | None = Field(
        default=None, description="A reply: False when nobody had recorded a DM to the lead."
    )
    error: ErrorBody | None = None
