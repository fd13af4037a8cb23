"""The Team page's charts: offline-safe SVG from pygal, and an escaped HTML heatmap."""

from __future__ import annotations

import importlib
import re
import warnings
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from dmledger.app.dashboard import TeamReport
from dmledger.web.charts import HEAT_LEVELS, MAX_DAY_BARS, NARROW, charts, heatmap_table

SVG = "{http://www.w3.org/2000/svg}"
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img onerror=x>'


def report(
    operator: str = "Sarah",
    actor: str = "sarah.sells",
    days: int = 7,
    heatmap: list[list[int]] | None = None,
) -> TeamReport:
    return TeamReport(
        generated_at=datetime(2026, 11, 29, 20, 0),
        period_label="Last 7 days",
        totals={
            "messages": 12,
            "leads_contacted": 5,
            "booked": 2,
            "clients": 1,
            "double_contacts": 1,
        },
        messages_per_day=[(f"2026-{1 + n // 28:02d}-{1 + n % 28:02d}", n % 5) for n in range(days)],
        by_operator=[
            {"operator": operator, "messages": 9, "leads": 4, "booked": 2},
            {"operator": None, "messages": 3, "leads": 1, "booked": 0},
        ],
        by_actor=[
            {
                "actor": actor,
                "operator": operator,
                "status": "active",
                "messages": 12,
                "leads": 5,
                "booked": 2,
            }
        ],
        funnel=[("new", 0), ("contacted", 3), ("cold", 1), ("booked", 1), ("client", 1)],
        heatmap=heatmap if heatmap is not None else [[0] * 24 for _ in range(7)],
        double_contacts=[],
    )


def texts(svg: str) -> list[str]:
    """Every piece of text a browser would show from an SVG (parsed, entities decoded)."""
    root = ET.fromstring(svg)
    return [element.text for element in root.iter(f"{SVG}text") if element.text]


def test_charts_are_inline_svg_except_the_heatmap_table() -> None:
    drawn = charts(report())
    assert sorted(drawn) == ["by_actor", "by_operator", "funnel", "heatmap", "per_day"]
    for name in ("per_day", "by_operator", "by_actor", "funnel"):
        assert drawn[name].startswith("<svg "), name  # no XML declaration inside HTML
        assert ET.fromstring(drawn[name]).tag == f"{SVG}svg"
    assert drawn["heatmap"].startswith('<table class="heatmap"')


@pytest.mark.parametrize("name", ["per_day", "by_operator", "by_actor", "funnel"])
def test_a_chart_references_nothing_outside_itself_and_runs_no_script(name: str) -> None:
    svg = charts(report())[name]
    # The SVG namespace is a name, not a place the browser fetches; nothing else may be.
    outside = svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    outside = outside.replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}|href|url\(|@import", outside)
    assert "<script" not in svg
    assert "<!--" not in svg


def test_each_chart_is_named_for_screen_readers() -> None:
    drawn = charts(report())
    titles = {
        name: ET.fromstring(drawn[name]).find(f"{SVG}title") for name in drawn if name != "heatmap"
    }
    assert {name: t.text for name, t in titles.items() if t is not None} == {
        "per_day": "Messages per day (UTC)",
        "by_operator": "Messages, leads and bookings by operator",
        "by_actor": "Messages, leads and bookings by actor",
        "funnel": "Leads by status",
    }


@pytest.mark.parametrize("name", [SCRIPT, BREAKOUT])
def test_markup_in_an_operator_or_actor_name_is_drawn_as_text(name: str) -> None:
    drawn = charts(report(operator=name, actor=name))
    for chart in ("by_operator", "by_actor"):
        svg = drawn[chart]
        assert name not in svg  # never raw
        assert "<img" not in svg and "<script" not in svg
        assert any(name in text for text in texts(svg)), chart  # shown, as text


def test_an_operator_that_cannot_be_told_is_labelled_so() -> None:
    assert "(unknown operator)" in texts(charts(report())["by_operator"])


def test_the_funnel_shows_statuses_in_pipeline_order_from_the_top() -> None:
    labels = [t for t in texts(charts(report())["funnel"]) if t.isalpha()]
    # pygal writes a horizontal chart's labels bottom-up.
    assert labels[:5] == ["client", "booked", "cold", "contacted", "new"]


def test_a_long_period_is_drawn_as_a_line_not_slivers_of_bars() -> None:
    short = charts(report(days=MAX_DAY_BARS))["per_day"]
    long = charts(report(days=MAX_DAY_BARS + 1))["per_day"]
    assert 'class="bar"' in short
    assert 'class="bar"' not in long and 'class="line' in long


def test_an_empty_period_says_so_instead_of_drawing_nothing() -> None:
    assert "No DMs in this period" in texts(charts(report(days=0))["per_day"])


def test_heatmap_cells_get_an_intensity_class_by_share_of_the_busiest_hour() -> None:
    grid = [[0] * 24 for _ in range(7)]
    grid[0][9] = 8  # Monday 09:00, the busiest
    grid[0][10] = 4
    grid[6][23] = 1
    table = heatmap_table(grid)
    assert '<td class="heat-4" title="Mon 09:00 UTC: 8 messages">8</td>' in table
    assert '<td class="heat-2" title="Mon 10:00 UTC: 4 messages">4</td>' in table
    assert '<td class="heat-1" title="Sun 23:00 UTC: 1 message">1</td>' in table
    assert '<td class="heat-0" title="Tue 00:00 UTC: 0 messages"></td>' in table
    assert table.count("<td ") == 7 * 24
    assert {int(n) for n in re.findall(r"heat-(\d)", table)} <= set(range(HEAT_LEVELS + 1))


def test_an_empty_heatmap_is_all_blank_cells() -> None:
    table = heatmap_table([[0] * 24 for _ in range(7)])
    assert table.count('class="heat-0"') == 7 * 24
    assert re.findall(r'<th scope="row">(\w+)</th>', table) == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ]


def test_drawing_a_chart_leaves_failed_imports_as_plain_import_errors() -> None:
    # pygal's own import hook turned every later failed import into an ImportWarning,
    # which broke optional imports in other libraries under warnings-as-errors.
    charts(report())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("dmledger_no_such_module")


def test_a_phones_drawing_is_narrower_with_fewer_shorter_labels() -> None:
    wide, narrow = charts(report(days=30)), charts(report(days=30), NARROW)
    for name in ("per_day", "by_operator", "by_actor", "funnel"):
        assert ET.fromstring(narrow[name]).get("viewBox") == f"0 0 {NARROW.width} {NARROW.height}"
    wide_days = [t for t in texts(wide["per_day"]) if t.startswith("20")]
    narrow_days = [t for t in texts(narrow["per_day"]) if t[:3].isalpha() and t[-1].isdigit()]
    assert len(wide_days) > len(narrow_days) >= 3 and len(narrow_days) <= NARROW.day_labels
    assert all(len(t) <= len("Nov 30") for t in narrow_days)
    # An account is named without its operator: the label has the room for the name.
    assert not any("(" in t for t in texts(narrow["by_actor"]) if not t.isdigit())
