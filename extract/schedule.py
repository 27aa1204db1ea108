"""When to fetch a feed again: error counting, exponential backoff, Retry-After, 410, quiet feeds (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

BASE_BACKOFF = timedelta(minutes=30)
MAX_BACKOFF = timedelta(hours=24)
QUIET_AFTER = timedelta(days=4)
ACTIVE_WINDOW = timedelta(days=30)
ACTIVE_MIN_ITEMS = 5


@dataclass(frozen=True)
class FeedState:
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    last_status: int | None = None
    consecutive_failures: int = 0
    next_check_at: datetime | None = None
    stopped: bool = False


def is_due(state: FeedState, now: datetime) -> bool:
    return not state.stopped and (state.next_check_at is None or state.next_check_at <= now)


def after_success(
    state: FeedState, now: datetime, status: int, etag: str | None, last_modified: str | None
) -> FeedState:
    """A fetch that worked (200 or 304): the error count resets; validators are kept when the server sent none."""
    return replace(
        state,
        etag=etag or (state.etag if status == 304 else None),
        last_modified=last_modified or (state.last_modified if status == 304 else None),
        last_attempt_at=now,
        last_success_at=now,
        last_status=status,
        consecutive_failures=0,
        next_check_at=None,
    )


def backoff(failures: int) -> timedelta:
    """30 min, 1 h, 2 h, … capped at 24 h."""
    doublings = min(max(0, failures - 1), 16)  # 2**16 half-hours is far past the cap already
    return min(MAX_BACKOFF, BASE_BACKOFF * 2**doublings)


def after_failure(
    state: FeedState,
    now: datetime,
    error: str,
    status: int | None = None,
    retry_after: float | None = None,
    gone: bool = False,
) -> FeedState:
    """One more consecutive failure: wait longer (or as long as the server asked); 410 stops the feed."""
    failures = state.consecutive_failures + 1
    wait = backoff(failures)
    if retry_after is not None:
        wait = min(MAX_BACKOFF, max(wait, timedelta(seconds=min(retry_after, MAX_BACKOFF.total_seconds()))))
    return replace(
        state,
        last_attempt_at=now,
        last_error_at=now,
        last_error=error[:500],
        last_status=status,
        consecutive_failures=failures,
        next_check_at=now + wait,
        stopped=state.stopped or gone,
    )


def is_quiet(published: list[datetime], now: datetime) -> bool:
    """A usually active feed (several items in the last 30 days) that has published nothing for 4 days."""
    recent = [p for p in published if now - ACTIVE_WINDOW <= p <= now]
    return len(recent) >= ACTIVE_MIN_ITEMS and now - max(recent) > QUIET_AFTER
