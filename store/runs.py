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


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 7) -> list[tuple]:
    """(run_id, run_date, started_at, finished_at, status, counts, errors) of the latest runs, newest first."""
    rows = con.execute(
        "SELECT run_id, run_date, started_at, finished_at, status, counts, errors FROM runs "
        "ORDER BY started_at DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [(*r[:5], json.loads(r[5]) if r[5] else {}, json.loads(r[6]) if r[6] else []) for r in rows]


def delivery_outcomes(con: duckdb.DuckDBPyConnection, since: date) -> dict[str, int]:
    rows = con.execute(
        "SELECT status, count(*) FROM deliveries WHERE digest_date >= ? GROUP BY status", [since]
    ).fetchall()
    return {status: int(n) for status, n in rows}
