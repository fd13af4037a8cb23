"""The Team page's charts, rendered on the server as inline SVG by pygal.

Every chart works with no internet: pygal's external tooltip script is switched off
(``js=[]``), and an XML filter removes the inline config script and pygal's comments
(which carry its web address), so the SVG references nothing outside itself and runs
no script at all. pygal escapes every label it writes; operator and actor names are
user input, and the tests check that markup in them stays text.

Every pygal chart is drawn in two sizes: ``charts`` for a laptop and ``NARROW`` (through
``charts(report, NARROW)``) for a phone, where the wide drawing shrunk to the screen
would leave its labels 6 px tall. The narrow one is drawn near the width it is shown
at, with fewer, shorter labels; the page shows the one that fits (app.css).

The heatmap is not a pygal chart (pygal has none): ``heatmap_table`` renders it as an
HTML table whose cells carry the class ``heat-0`` (no DMs) or ``heat-1`` to ``heat-4``
(up to a quarter, half, three quarters, or more of the busiest cell's count);
``HEATMAP_CSS`` is a matching stylesheet the page may serve.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from dmledger.app.dashboard import WEEKDAYS, TeamReport

#: Actors shown in the actor chart (the page's table lists them all).
MAX_ACTOR_BARS = 20
#: Beyond this many days the per-day chart is a line: bars would be slivers.
MAX_DAY_BARS = 62
HEAT_LEVELS = 4

HEATMAP_CSS = """\
table.heatmap { border-collapse: collapse; font-size: 0.75rem; }
table.heatmap th { font-weight: normal; padding: 0 0.25rem; }
table.heatmap td { width: 1.4rem; height: 1.4rem; text-align: center; }
table.heatmap .heat-0 { background: #f3f4f6; color: #9ca3af; }
table.heatmap .heat-1 { background: #dbeafe; }
table.heatmap .heat-2 { background: #93c5fd; }
table.heatmap .heat-3 { background: #3b82f6; color: #fff; }
table.heatmap .heat-4 { background: #1e3a8a; color: #fff; }
"""

_STYLE = {
    "background": "transparent",
    "plot_background": "transparent",
    "font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "colors": ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed"),
    # In SVG units: a chart is drawn CHART_WIDTH wide and scaled to its card, so these
    # are about the sizes read on a laptop (the page's text is 15 px).
    "label_font_size": 14,
    "major_label_font_size": 14,
    "value_font_size": 13,
    "legend_font_size": 14,
    "tooltip_font_size": 14,
}
#: The width every chart is drawn at (its height is 400): about a card's width on a
#: laptop, so the fonts above are shown near their size.
CHART_WIDTH = 720


@dataclass(frozen=True)
class Size:
    """How big a chart is drawn and how much its labels may say."""

    width: int
    height: int
    day_labels: int  # about how many dates the per-day chart names
    label_chars: int  # a bar's label is cut after this many characters
    rotation: int  # degrees the per-day chart's dates are turned
    short: bool  # dates as "Nov 3", accounts without their operator


WIDE = Size(CHART_WIDTH, 400, 10, 40, 30, short=False)
#: A phone's card is about 300 px wide: drawn at 340, the text is shown at about 12 px.
NARROW = Size(340, 380, 4, 14, 0, short=True)
_NO_OPERATOR = "(unknown operator)"
# Each value is written just after the end of its bar, not across it: a short bar's
# number never spills over the bar below it (pygal leaves room for the longest).
_VALUES_AFTER_BARS: dict[str, Any] = {"print_values": True, "print_values_position": "top"}


def _pygal() -> Any:
    """pygal, imported on first use, without the import hook it installs.

    pygal appends a hook to ``sys.meta_path`` for its optional map plugins. The hook
    has no ``find_spec``, so from then on every failed import in the process (any
    library's ``try: import optional``) raises ImportWarning, an error wherever
    warnings are errors. We draw no maps, so the hook is taken out at once, before any
    other import can run into it; that is also why pygal is not imported at the top.
    """
    import pygal

    hook = getattr(pygal, "PluginImportFixer", None)
    if hook is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, hook)]
    return pygal


def charts(report: TeamReport, size: Size = WIDE) -> dict[str, str]:
    """The Team page's charts, keyed "per_day", "by_operator", "by_actor", "funnel"
    (inline SVG) and "heatmap" (an HTML table). Safe to insert into a page unescaped."""
    return {
        "per_day": per_day_chart(report.messages_per_day, size),
        "by_operator": by_operator_chart(report.by_operator, size),
        "by_actor": by_actor_chart(report.by_actor, size),
        "funnel": funnel_chart(report.funnel, size),
        "heatmap": heatmap_table(report.heatmap),
    }


def per_day_chart(days: Sequence[tuple[str, int]], size: Size = WIDE) -> str:
    """Messages per day: bars, or a filled line for long periods."""
    if len(days) > MAX_DAY_BARS:
        chart = _pygal().Line(**_config(size, show_dots=False, fill=True, show_legend=False))
    else:
        chart = _pygal().Bar(**_config(size, show_legend=False))
    chart.x_labels = [_day_label(day, size) for day, _ in days]
    # About ten date labels (four on a phone) whatever the period's length.
    chart.x_labels_major_every = max(1, -(-len(days) // size.day_labels))
    chart.show_minor_x_labels = False
    chart.x_label_rotation = size.rotation
    chart.add("Messages", [count for _, count in days])
    return _render(chart, "Messages per day (UTC)")


def _day_label(day: str, size: Size) -> str:
    if not size.short:
        return day
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return day
    return f"{parsed:%b} {parsed.day}"


def by_operator_chart(rows: Sequence[dict[str, Any]], size: Size = WIDE) -> str:
    """The operators' leaderboard: messages, leads and booked leads per operator."""
    return _leaderboard(
        [str(r["operator"]) if r["operator"] is not None else _NO_OPERATOR for r in rows],
        rows,
        "Messages, leads and bookings by operator",
        size,
    )


def by_actor_chart(rows: Sequence[dict[str, Any]], size: Size = WIDE) -> str:
    """The actors' leaderboard (top ``MAX_ACTOR_BARS``), labelled "actor (operator)"
    (the actor alone on a phone)."""
    top = list(rows)[:MAX_ACTOR_BARS]
    labels = [
        f"{r['actor']} ({r['operator']})"
        if r.get("operator") and not size.short
        else str(r["actor"])
        for r in top
    ]
    return _leaderboard(labels, top, "Messages, leads and bookings by actor", size)


def funnel_chart(funnel: Sequence[tuple[str, int]], size: Size = WIDE) -> str:
    """Leads by current status, in pipeline order from the top."""
    chart = _pygal().HorizontalBar(**_config(size, show_legend=False, **_bars_with_values(size)))
    # pygal draws a horizontal bar chart's first label at the bottom.
    ordered = list(reversed(funnel))
    chart.x_labels = [status for status, _ in ordered]
    chart.add("Leads", [count for _, count in ordered])
    return _render(chart, "Leads by status")


def heatmap_table(grid: Sequence[Sequence[int]]) -> str:
    """The hour × weekday heatmap (UTC) as an HTML table with ``heat-N`` cell classes."""
    busiest = max((n for row in grid for n in row), default=0)
    hours = "".join(f'<th scope="col">{hour:02d}</th>' for hour in range(24))
    lines = [
        '<table class="heatmap" aria-label="Messages by weekday and hour (UTC)">',
        f'<thead><tr><th scope="col"></th>{hours}</tr></thead>',
        "<tbody>",
    ]
    for day, row in zip(WEEKDAYS, grid, strict=True):
        cells = "".join(
            f'<td class="heat-{_level(int(n), busiest)}" '
            f'title="{escape(_cell_title(day, hour, int(n)))}">'
            f"{escape(str(int(n))) if n else ''}</td>"
            for hour, n in enumerate(row)
        )
        lines.append(f'<tr><th scope="row">{escape(day)}</th>{cells}</tr>')
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _cell_title(day: str, hour: int, count: int) -> str:
    return f"{day} {hour:02d}:00 UTC: {count} message{'' if count == 1 else 's'}"


def _level(count: int, busiest: int) -> int:
    """0 for no DMs, else 1…HEAT_LEVELS by the share of the busiest cell."""
    if count <= 0 or busiest <= 0:
        return 0
    return max(1, min(HEAT_LEVELS, -(-count * HEAT_LEVELS // busiest)))


def _leaderboard(labels: list[str], rows: Sequence[dict[str, Any]], title: str, size: Size) -> str:
    chart = _pygal().HorizontalBar(**_config(size, **_bars_with_values(size)))
    # Reversed so the leader is drawn at the top.
    chart.x_labels = list(reversed(labels))
    for key, name in (("messages", "Messages"), ("leads", "Leads"), ("booked", "Booked")):
        chart.add(name, [int(r[key]) for r in reversed(rows)])
    return _render(chart, title)


def _bars_with_values(size: Size) -> dict[str, Any]:
    """A horizontal bar chart's options: each bar's number beside it, and on a phone no
    value axis (its numbers would run into each other; the bars carry theirs)."""
    if not size.short:
        return dict(_VALUES_AFTER_BARS)
    return _VALUES_AFTER_BARS | {"show_x_labels": False, "show_x_guides": False}


def _config(size: Size, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "js": [],  # no script from the internet (pygal's default is a CDN URL)
        "disable_xml_declaration": True,  # inline in HTML, not a standalone file
        "style": _pygal().style.Style(**_STYLE),
        "legend_at_bottom": True,
        "truncate_label": size.label_chars,
        "no_data_text": "No DMs in this period",
        "width": size.width,
        "height": size.height,
    }
    if size.short:
        # Room for the number after the longest bar; legend names are short, never cut.
        options |= {"margin_right": 44, "truncate_legend": -1, "legend_at_bottom_columns": 1}
    options.update(overrides)
    return options


def _render(chart: Any, title: str) -> str:
    chart.add_xml_filter(_offline(title))
    return str(chart.render(is_unicode=True))


def _offline(title: str) -> Callable[[Any], Any]:
    """An XML filter: drop scripts and comments, start values after their bars, and name
    the chart for screen readers."""

    def apply(root: Any) -> Any:
        for parent in list(root.iter()):
            for child in list(parent):
                tag = child.tag if isinstance(child.tag, str) else ""
                if not tag or tag.rsplit("}", 1)[-1] == "script":
                    parent.remove(child)  # a comment (non-string tag) or a script
                elif tag.rsplit("}", 1)[-1] == "text" and child.get("class") == "value":
                    # pygal centres a value a few units after its bar's end, so half of
                    # a long number lies on the bar: start it there instead.
                    child.set("text-anchor", "start")
        for child in root:
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "title":
                child.text = title
                break
        return root

    return apply


__all__ = ["HEATMAP_CSS", "NARROW", "WIDE", "Size", "charts", "heatmap_table"]
