"""An OpenAPI fuzz run of the JSON API with schemathesis: whatever it sends, no 5xx,
and every answer matches the published document.

The number of examples per operation is bounded so the run stays well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web_support import make_ledger, seed_team

from dmledger import settings as config
from dmledger.web.app import create_app

EXAMPLES_PER_OPERATION = 60


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[Any]:
    home = tmp_path / "fuzz-home"
    home.mkdir()
    ledger = make_ledger(home)
    seed_team(ledger)
    token = config.api_token(home)
    # schemathesis's ASGI client calls itself "testserver": allow that name here.
    app = create_app(
        ledger, token=token, allowed_hosts=("testserver", "127.0.0.1"), run_sync_loop=False
    )
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    schema.app_token = token  # type: ignore[attr-defined]
    try:
        yield schema
    finally:
        ledger.close()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzing_the_api_never_gets_a_server_error(api_schema: Any, mode: GenerationMode) -> None:
    token = api_schema.app_token
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 6
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
