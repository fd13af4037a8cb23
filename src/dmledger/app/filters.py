"""The one check of a lead filter, before any list, count or export reads the store."""

from __future__ import annotations

from dataclasses import replace

from dmledger.domain.handles import validate_actor_username
from dmledger.domain.statuses import parse_status
from dmledger.domain.text import validate_search
from dmledger.local import ProspectFilter


def normalised_filter(where: ProspectFilter) -> ProspectFilter:
    """``where`` with its status parsed, its owner validated and its search checked;
    InvalidInput naming the value otherwise."""
    return replace(
        where,
        status=parse_status(where.status).value if where.status else None,
        owner_actor=validate_actor_username(where.owner_actor) if where.owner_actor else None,
        search=validate_search(where.search),
    )
