"""Least privilege, proven with a real restricted PostgreSQL role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dmledger.app.ledger import Ledger
from dmledger.cli import app
from dmledger.cloud.schema.grants import grant_statements
from dmledger.errors import CloudPermissionDenied, InvalidInput


@pytest.fixture
def lead_and_operator(
    tmp_path: Path, pg_url: str, operator_role: str, operator_url: str
) -> Iterator[tuple[Ledger, Ledger]]:
    lead, _ = Ledger.init_home(tmp_path / "lead", "Lena", cloud_url=pg_url, actor="lena.leads")
    lead.cloud_init()
    lead.cloud_grants("operator", operator_role, apply=True)
    agent, _ = Ledger.init_home(tmp_path / "op", "Omar", cloud_url=operator_url, actor="omar.dm")
    yield lead, agent
    lead.close()
    agent.close()


def test_operator_role_logs_edits_and_syncs_normally(
    lead_and_operator: tuple[Ledger, Ledger],
) -> None:
    lead, agent = lead_and_operator
    agent.log_dm("first.lead", "hello")
    agent.add_prospect("second.lead", notes="met at the expo")
    agent.update_prospect("first.lead", status="warm", append_note="replied")
    report = agent.sync()
    assert (report.pushed_logs, report.set_aside) == (1, 0)
    lead.sync()
    card = lead.card("first.lead")
    assert (card.status, card.owner_actor) == ("warm", "omar.dm")
    assert lead.card("second.lead").notes == "met at the expo"
    assert agent.add_operator("Nadia") is True
    assert agent.add_actor("nadia.sends", "Nadia") is True


def test_operator_role_records_replies_and_edits_the_teams_templates_and_rule(
    lead_and_operator: tuple[Ledger, Ledger],
) -> None:
    lead, agent = lead_and_operator
    agent.log_dm("answered.lead", "hello")
    agent.followups.reply("answered.lead")
    agent.templates.add("opener", "hi {handle}, loved your page")
    agent.followups.set_rule("3d", 2)
    report = agent.sync()
    assert (report.set_aside, report.errors) == (0, [])
    assert agent.followups.team_edits_waiting() == 0
    lead.sync()
    assert lead.card("answered.lead").status == "warm"
    assert [t.name for t in lead.templates.list()] == ["opener"]
    assert lead.followups.rule().max_followups == 2
    agent.templates.delete("opener")
    agent.sync()
    lead.sync()
    assert lead.templates.list() == []


def test_operator_role_cannot_reset_drop_or_delete_logs(
    lead_and_operator: tuple[Ledger, Ledger],
) -> None:
    _lead, agent = lead_and_operator
    agent.log_dm("kept.lead", "hello")
    agent.sync()
    with pytest.raises(CloudPermissionDenied, match="not allowed"):
        agent.cloud_reset()
    with pytest.raises(CloudPermissionDenied):
        agent.cloud.run_statements(["DROP TABLE outreach_logs"])
    with pytest.raises(CloudPermissionDenied):
        agent.cloud.run_statements(["DELETE FROM outreach_logs"])
    assert agent.cloud.counts()["outreach_logs"] == 1


def test_deleting_a_messaged_lead_as_operator_is_set_aside_with_the_reason(
    lead_and_operator: tuple[Ledger, Ledger],
) -> None:
    lead, agent = lead_and_operator
    agent.log_dm("messaged.lead", "hello")
    agent.sync()
    agent.delete_prospect("messaged.lead")
    report = agent.sync()
    assert report.set_aside == 1
    [item] = agent.status(probe_cloud=False).set_aside
    assert item.kind == "edit" and "not allowed" in item.error
    lead.sync()
    assert lead.card("messaged.lead").known


def test_cli_reports_a_refused_reset_clearly(
    lead_and_operator: tuple[Ledger, Ledger],
) -> None:
    _lead, agent = lead_and_operator
    result = CliRunner().invoke(app, ["--home", str(agent.home), "cloud", "reset", "--yes"])
    assert result.exit_code == 1
    assert "not allowed" in result.output
    assert "Traceback" not in result.output


def test_grant_statements_name_only_the_tables_an_agent_needs() -> None:
    statements = grant_statements("postgresql", "operator", "omar", owner="team")
    text = "\n".join(statements)
    assert "GRANT SELECT, INSERT ON team.outreach_logs TO omar" in text
    assert "DELETE ON team.outreach_logs" not in text
    assert all(s.startswith("GRANT ") for s in statements)
    oracle = grant_statements("oracle", "operator", "OMAR")
    assert "GRANT SELECT, INSERT ON ADMIN.OUTREACH_LOGS TO OMAR" in oracle


@pytest.mark.parametrize("bad", ["omar; DROP TABLE x", "1abc", "a b", ""])
def test_grant_user_names_must_be_plain_identifiers(bad: str) -> None:
    with pytest.raises(InvalidInput, match="plain identifier"):
        grant_statements("postgresql", "operator", bad)
