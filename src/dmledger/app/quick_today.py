"""``dmledger today``: the Today list of a home, read from its cache without opening a
``Ledger`` when the cache allows (start-up is most of that command's time), else
through one. A workflow that opens a Ledger, so it sits above ``ledger.py``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dmledger.domain.timeutil import Clock, utcnow
from dmledger.homedir import require_home, secure_home
from dmledger.local import reader

from .today import TODAY_LIMIT_DEFAULT, Today, TodayQuery, build_today


def read_today(
    home: Path,
    *,
    actor: str | None = None,
    operator: str | None = None,
    limit: int = TODAY_LIMIT_DEFAULT,
    clock: Clock = utcnow,
) -> Today:
    """The Today list of ``home``, read from its cache without opening a ``Ledger``.

    ConfigError when the home was never set up. A cache this reader cannot take as it
    is (not made yet, or by an older agent) is opened through the ``Ledger``, which
    upgrades it: the answer is the same, only slower."""
    query = TodayQuery.of(actor, operator, limit)
    require_home(home)
    secure_home(home)  # as a Ledger would: files SQLite makes now are born 0600
    db = reader.open_cache(home)
    if db is None:
        from dmledger.app.ledger import Ledger

        ledger = Ledger.open(home, clock=clock)
        try:
            return ledger.followups.today(actor=actor, operator=operator, limit=limit)
        finally:
            ledger.close()
    try:
        now = clock() + (reader.clock_offset(db) or timedelta(0))
        return build_today(db, now, query)
    finally:
        db.close()
