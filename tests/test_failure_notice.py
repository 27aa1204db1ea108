"""A failed run is never silent: the operator gets an email (SMTP on loopback here), the run is recorded as
failed, and the flow's state in Prefect is failed."""

from __future__ import annotations

import email
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows import stages
from flows.daily import RunPaths, daily
from store.db import open_db
from tests.test_delivery import Recorder, smtp_server  # noqa: F401 - the fixture is used


def test_the_operator_hears_of_a_failed_run(
    tmp_path: Path,
    smtp_server: tuple[str, Recorder],  # noqa: F811
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, recorder = smtp_server
    monkeypatch.setenv("UNDERCURRENT_SMTP_URL", url)
    monkeypatch.setenv("UNDERCURRENT_OPERATOR_EMAIL", "ops@example.org")
    monkeypatch.delenv("UNDERCURRENT_SOURCES", raising=False)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the themes stage broke")

    monkeypatch.setattr(stages, "themes_stage", broken)
    db = tmp_path / "fail.duckdb"
    open_db(db).close()
    with pytest.raises(RuntimeError, match="themes stage broke"):
        daily(date(2026, 11, 21), RunPaths(db, None, tmp_path / "outbox"))
    assert len(recorder.messages) == 1
    recipients, content = recorder.messages[0]
    message = email.message_from_bytes(content)
    assert recipients == ["ops@example.org"] and "failed" in message["Subject"]
    assert "RuntimeError: the themes stage broke" in message.get_payload(decode=True).decode()
    with duckdb.connect(str(db), read_only=True) as con:
        status, errors = con.execute("SELECT status, errors FROM runs").fetchone()
    assert status == "failed" and "the themes stage broke" in errors
