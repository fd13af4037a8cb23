"""Operators and actors as the web app shows them: from the cloud when it answers,
else from this machine's copy (refreshed at every sync), saying which.

Also the bulk status change of the Leads page, which is a person's decision applied
to many leads at once, each through the same rule as ``prospect set``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dmledger.domain.records import ActorRow
from dmledger.domain.statuses import parse_status
from dmledger.errors import CloudError, ConfigError, DmLedgerError, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from dmledger.cloud import CloudStore
    from dmledger.domain.records import Prospect
    from dmledger.local import LocalStore

log = logging.getLogger(__name__)

BULK_MAX = 1000


@dataclass
class People:
    """The team's operators and actors; ``from_cloud`` is False when the cloud did not
    answer and the lists are this machine's copy (``cloud_error`` says why)."""

    operators: list[str]
    actors: list[ActorRow]
    from_cloud: bool
    cloud_error: str | None = None


class Roster:
    """The team's people for one home: owned by ``Ledger`` (``ledger.people``), built
    with the local store (this machine's copy), this home's operator and the cloud
    store (opened on first use, so a broken cloud setting means the local copy)."""

    def __init__(self, local: LocalStore, operator: str, cloud: Callable[[], CloudStore]) -> None:
        self._local = local
        self._operator = operator
        self._cloud = cloud

    def local(self) -> People:
        """This machine's copy of the team (instant, offline): for pickers and filters."""
        with self._local.reading() as conn:
            operators = self._local.list_operators(conn)
            actors = self._local.list_actors(conn)
        known = set(operators)
        if self._operator not in known:
            operators = sorted([*operators, self._operator])
        return People(operators, actors, from_cloud=False)

    def team(self) -> People:
        """The team from the cloud; this machine's copy when the cloud cannot be reached."""
        try:
            cloud = self._cloud()
            operators = cloud.list_operators()
            actors = cloud.list_actors()
        except (CloudError, ConfigError) as error:
            log.info("people from the cloud unavailable: %s", error)
            fallback = self.local()
            fallback.cloud_error = str(error)
            return fallback
        return People(operators, actors, from_cloud=True)


@dataclass
class BulkResult:
    """What a bulk status change did: the leads changed and those that could not be."""

    status: str
    changed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (handle, reason)


def set_status_many(
    set_status: Callable[[str, str], Prospect], handles: list[str], status: str
) -> BulkResult:
    """Set one status on many leads through ``set_status`` (``prospect set``'s rule); a
    bad handle is reported, it does not stop the rest.

    Raises InvalidInput for an unknown status, no handles, or more than BULK_MAX.
    """
    if not handles:
        raise InvalidInput("no leads selected: tick at least one lead")
    if len(handles) > BULK_MAX:
        raise InvalidInput(f"{len(handles)} leads selected: at most {BULK_MAX} at once")
    result = BulkResult(parse_status(status).value)
    for raw in handles:
        try:
            updated = set_status(raw, result.status)
        except DmLedgerError as error:
            result.failed.append((raw, str(error)))
        else:
            result.changed.append(updated.handle)
    return result
