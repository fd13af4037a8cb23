"""An OpenAPI fuzz run of the JSON API with schemathesis: whatever it sends, no 5xx,
and every answer matches the published document. The page routes (left out of the
published document) are fuzzed the same way through a document made for the test:
whatever their query parameters and path hold, no 5xx.

The number of examples per operation is bounded so the run stays well under a minute.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web_support import make_ledger, seed_team

from dmledger import settings as config
from dmledger.web import admin, leads, login, pages, team_page
from dmledger.web.app import create_app

EXAMPLES_PER_OPERATION = 60


@pytest.fixture
def fuzzed_app(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    home = tmp_path / "fuzz-home"
    home.mkdir()
    ledger = make_ledger(home)
    seed_team(ledger)
    token = config.api_token(home)
    # schemathesis's ASGI client calls itself "testserver": allow that name here.
    app = create_app(
        ledger, token=token, allowed_hosts=("testserver", "127.0.0.1"), run_sync_loop=False
    )
    try:
        yield app, token
    finally:
        ledger.close()


@pytest.fixture
def api_schema(fuzzed_app: tuple[Any, str]) -> Any:
    app, token = fuzzed_app
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    schema.app_token = token  # type: ignore[attr-defined]
    return schema


@pytest.fixture
def page_schema(fuzzed_app: tuple[Any, str]) -> Any:
    """An OpenAPI document of every page a browser GETs, with its query parameters."""
    app, _ = fuzzed_app
    routes = []
    for module in (pages, leads, team_page, admin, login):
        for route in module.router.routes:
            if isinstance(route, APIRoute) and "GET" in route.methods:
                published = copy.copy(route)  # the module's own route stays unpublished
                published.include_in_schema = True
                routes.append(published)
    document = get_openapi(title="DM Ledger pages", version="test", routes=routes)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    return schema


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzing_the_api_never_gets_a_server_error(api_schema: Any, mode: GenerationMode) -> None:
    token = api_schema.app_token
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 9  # the check endpoint (issue 13), replies and today (issue 12)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same examples on every run: no flaky CI
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        run()


PAGE_ROUTES_WITH_QUERY = {"/", "/leads", "/leads/count", "/leads/export.csv", "/team", "/admin"}
# Pages with a typed or bounded parameter, which negative mode can get wrong.
NEGATIVE_FUZZED = {"/leads", "/leads/count", "/leads/export.csv", "/team", "/admin"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzing_the_pages_query_parameters_never_gets_a_server_error(
    page_schema: Any, mode: GenerationMode
) -> None:
    operations = [result.ok() for result in page_schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    assert paths >= PAGE_ROUTES_WITH_QUERY, paths
    fuzzed = set()
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION // 2,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:
            # Negative mode: a page with no parameter, or only free-text ones, has no
            # wrong value to send (every query string is a string).
            assert mode is GenerationMode.NEGATIVE, operation.path
            continue
        fuzzed.add(operation.path)
    expected = paths if mode is GenerationMode.POSITIVE else NEGATIVE_FUZZED
    assert expected <= fuzzed, expected - fuzzed
