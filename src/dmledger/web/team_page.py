"""The Team page: the team's numbers from the cloud (aggregated there, in SQL), with
charts drawn server-side as SVG by ``charts.py``. When the cloud cannot be reached the
last report fetched for the same filters is shown, with its age.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from dmledger.app.dashboard import PERIODS, TeamFilter
from dmledger.errors import CloudError, InvalidInput
from dmledger.web.charts import NARROW, charts

from .errors import status_for
from .leads import day_after_or_none, day_or_none
from .render import ago_text, page
from .security import csrf_protect
from .state import WebState, web_state

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
State = Annotated[WebState, Depends(web_state)]
Text = Annotated[str, Query(max_length=100)]


def team_filter(period: str, start: str, end: str, operator: str, actor: str) -> TeamFilter:
    """The filter the page's query string describes; the custom ``end`` day is inclusive."""
    custom = period == "custom"
    return TeamFilter(
        period=period,
        start=day_or_none(start, "start date") if custom else None,
        end=day_after_or_none(end, "end date") if custom else None,
        operator=operator or None,
        actor=actor or None,
    )


@router.get("/team", response_class=HTMLResponse)
def team(
    request: Request,
    state: State,
    period: Text = "30d",
    start: Text = "",
    end: Text = "",
    operator: Text = "",
    actor: Text = "",
) -> HTMLResponse:
    """Messages per day, leaderboards, funnel, heatmap and double contacts."""
    filters = {"period": period, "start": start, "end": end, "operator": operator}
    filters["actor"] = actor
    context: dict[str, Any] = {"report": None, "charts": {}, "error": None, "from_cache": False}
    status_code = 200
    try:
        report, fetched_at, from_cache = state.ledger.team.report(team_filter(**filters))
    except (InvalidInput, CloudError) as problem:
        status_code = status_for(problem)
        context["error"] = state.redact(str(problem))
    else:
        # charts.py escapes every label it draws: its SVG is the only markup on any page
        # that the template does not escape itself.
        wide, narrow = charts(report), charts(report, NARROW)
        # Both drawings go into the page; app.css shows the one that fits the screen.
        drawn = {
            name: Markup(
                f'<div class="chart-draw chart-draw-wide">{wide[name]}</div>'
                f'<div class="chart-draw chart-draw-narrow">{narrow[name]}</div>'
                if name != "heatmap"
                else wide[name]
            )
            for name in wide
        }
        fetched = fetched_at.isoformat() + "Z"
        context |= {
            "report": report,
            "charts": drawn,
            "from_cache": from_cache,
            "fetched_at": fetched,
            "cache_age": ago_text(fetched),
        }
    people = state.ledger.people.local()
    return page(
        request,
        "team.html",
        context
        | {
            "filters": filters,
            "periods": list(PERIODS.items()),
            "operators": people.operators,
            "actors": people.actors,
        },
        status_code=status_code,
        section="team",
    )
