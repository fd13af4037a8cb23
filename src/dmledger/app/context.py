"""What every service of one home shares: its settings (the teammate's identity with
them) and the clock corrected to the cloud's. ``Ledger`` makes one and hands it to
each service that needs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dmledger import settings as config
from dmledger.domain.handles import validate_actor_username
from dmledger.errors import ConfigError


@dataclass(frozen=True)
class Context:
    settings: config.Settings
    #: This machine's clock corrected by the offset to the cloud's, measured at the
    #: last sync (UTC): the time stamped on DMs, edits and note lines.
    now: Callable[[], datetime]

    @property
    def operator(self) -> str:
        """The teammate this home belongs to."""
        return self.settings.operator

    def actor(self, actor: str | None) -> str:
        """The account a DM is sent from: ``actor``, else the home's; ConfigError when
        neither is set."""
        chosen = actor or self.settings.actor
        if not chosen:
            raise ConfigError(
                "no actor given and none set at init: pass --actor USERNAME "
                "(the Instagram account the DM was sent from)"
            )
        return validate_actor_username(chosen)
