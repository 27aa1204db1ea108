"""The runs table: one row per pipeline run with its counts and errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb

from store.db import utc_now


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, run_date: date) -> None:
    con.execute(
        "INSERT INTO runs (run_id, run_date, started_at, status) VALUES (?, ?, ?, 'running')",
        [run_id, run_date, utc_now()],
    )


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str,
    counts: dict[str, Any],
    errors: list[str],
    warnings: Sequence[str] = (),
) -> None:
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, counts = ?, errors = ?, warnings = ? WHERE run_id = ?",
        [utc_now(), status, json.dumps(counts, sort_keys=True), json.dumps(errors), json.dumps(list(warnings)), run_id],
    )
