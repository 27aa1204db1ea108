"""Feed health: the state that decides when each feed is fetched again, and what `sources list` shows."""

from __future__ import annotations

from dataclasses import astuple, fields
from datetime import datetime, timedelta

import duckdb

from extract.schedule import FeedState

_COLUMNS = [f.name for f in fields(FeedState)]


def load_state(con: duckdb.DuckDBPyConnection, source_id: str) -> FeedState:
    row = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM feed_state WHERE source_id = ?", [source_id]).fetchone()
    return FeedState(*row) if row else FeedState()


def save_state(con: duckdb.DuckDBPyConnection, source_id: str, state: FeedState) -> None:
    assignments = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)
    con.execute(
        f"INSERT INTO feed_state (source_id, {', '.join(_COLUMNS)}) VALUES (?{', ?' * len(_COLUMNS)}) "
        f"ON CONFLICT (source_id) DO UPDATE SET {assignments}",
        [source_id, *astuple(state)],
    )


def published_dates(con: duckdb.DuckDBPyConnection, source_id: str, since: datetime) -> list[datetime]:
    rows = con.execute(
        "SELECT published_at FROM documents WHERE source_id = ? AND published_at >= ?", [source_id, since]
    ).fetchall()
    return [r[0] for r in rows]


def health(con: duckdb.DuckDBPyConnection, now: datetime) -> list[tuple]:
    """Per configured feed: name, kind, url, state columns and the items published in the last 7 days."""
    return con.execute(
        """
        SELECT s.source_id, s.name, s.kind, s.url, f.last_success_at, f.last_error_at, f.last_error,
               coalesce(f.consecutive_failures, 0), f.next_check_at, coalesce(f.stopped, false),
               (SELECT count(*) FROM documents d WHERE d.source_id = s.source_id AND d.published_at >= ?) AS week
        FROM sources s LEFT JOIN feed_state f USING (source_id)
        WHERE s.kind IN ('news', 'podcast')
        ORDER BY s.name
        """,
        [now - timedelta(days=7)],
    ).fetchall()
