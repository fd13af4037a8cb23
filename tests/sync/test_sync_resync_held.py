"""A full resync while some other transaction holds PostgreSQL's watermark back.

The pull reads only below the oldest transaction still open, so the rows this very sync
pushed can be above it. A full resync deletes the cached leads it did not see; it must
not delete the ones its own push just put in the cloud, or a setter's card would say
"not contacted" right after they messaged the lead (the double DM the ledger exists to
prevent).
"""

from __future__ import annotations

import sqlalchemy as sa
from syncworld import Team, assert_cache_equals_cloud

from dmledger.cloud.tables import prospects


def test_a_first_sync_behind_an_open_transaction_keeps_the_leads_it_just_pushed(
    pg_team: Team,
) -> None:
    ann = pg_team.agent("Ann")
    ann.add_prospect("old.lead", status="cold")
    ann.sync()

    held = pg_team.cloud.engine.connect()
    held.begin()
    # Any write gives the foreign transaction an id: every commit after it is above
    # the watermark until it ends.
    held.execute(sa.insert(prospects).values(target_username="slow.lead", status="hot"))
    try:
        cara = pg_team.agent("Cara")  # a new home: its first sync is a full resync
        cara.log_dm("fresh.lead", "hi, loved your last post", actor="cara.dm")
        cara.cloud.settle_wait = 0.2
        report = cara.sync()
        assert report.pushed_logs == 1
        assert report.deleted == 0, "a first pull deletes nothing the cloud has"

        card = cara.card("fresh.lead")
        assert card.known, "the lead Cara just messaged vanished from her own cache"
        assert card.status == "contacted" and card.owner_actor == "cara.dm"
        assert cara.card("old.lead").status == "cold"  # committed before the held one
        assert cara.card("slow.lead").known is False  # not committed yet
    finally:
        held.commit()
        held.close()

    cara.sync()
    assert_cache_equals_cloud(cara, pg_team.cloud)
    assert cara.card("slow.lead").status == "hot"
    assert cara.card("fresh.lead").status == "contacted"
