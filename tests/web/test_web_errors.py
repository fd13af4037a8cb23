"""An unexpected error: its traceback is in the server's log, never in the answer."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from web_support import BASE_URL, TestClient


def _broken_helper(secret: str) -> None:
    raise RuntimeError(f"a bug deep inside, near {secret}")


def test_an_unexpected_error_is_logged_with_its_traceback_not_answered_with_it(
    app: FastAPI, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        _broken_helper(token)

    app.add_api_route("/api/v1/boom", boom)
    with (
        caplog.at_level(logging.ERROR, logger="dmledger.web.errors"),
        TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client,
    ):
        answer = client.get("/api/v1/boom", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == (
        "something went wrong inside DM Ledger; the details are in the server's log"
    )
    assert "Traceback" not in answer.text and "_broken_helper" not in answer.text
    logged = [r.getMessage() for r in caplog.records if r.name == "dmledger.web.errors"]
    assert len(logged) == 1
    assert "Traceback (most recent call last)" in logged[0]
    assert "in _broken_helper" in logged[0] and "RuntimeError: a bug deep inside" in logged[0]
    assert token not in logged[0], "the log is redacted like every message"
