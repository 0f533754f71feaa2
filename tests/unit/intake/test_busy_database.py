"""A locked or unreachable database answers 503 with Retry-After, never a 500."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from services.intake import errors


def test_a_locked_database_is_a_retry_not_a_crash() -> None:
    app = FastAPI()
    errors.install(app)

    @app.post("/write")
    def write() -> None:
        raise OperationalError("INSERT INTO organization ...", None,
                               sqlite3.OperationalError("database is locked"))

    answer = TestClient(app, raise_server_exceptions=False).post("/write")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "nothing was saved" in answer.json()["detail"]
    assert "INSERT" not in answer.text
