"""What needs the operator's attention, from the runs, feeds and deliveries (pure over plain rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STALE_AFTER = timedelta(hours=36)  # a daily schedule that has not finished a run for this long has stopped
FAILING_FEED = 3  # consecutive failures before a feed needs a look
HIGH_UNTHEMED = 0.5


@dataclass(frozen=True)
class RunRow:
    run_id: str
    run_date: Any
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: dict[str, Any]
    errors: list[str]


@dataclass(frozen=True)
class FeedRow:
    name: str
    failures: int
    stopped: bool
    quiet: bool
    last_error: str | None


def attention(
    runs: list[RunRow],
    feeds: list[FeedRow],
    deliveries: dict[str, int],
    queued_unsubscribes: int,
    now: datetime,
) -> list[str]:
    """One line per thing an operator should look at, most urgent first (empty: all is well)."""
    notes: list[str] = []
    if not runs:
        return ["no run yet: 'undercurrent run' (or 'undercurrent demo' to try the sample)"]
    latest = runs[0]
    if latest.status == "failed":
        reason = latest.errors[-1] if latest.errors else "no reason recorded"
        notes.append(f"the last run ({latest.run_date}) failed: {reason}")
    unfinished = [r for r in runs if r.status == "running" and now - r.started_at > timedelta(hours=6)]
    for run in unfinished:
        notes.append(
            f"run {run.run_id} for {run.run_date} started {run.started_at:%Y-%m-%d %H:%M} and never finished (killed?)"
        )
    finished = [r.finished_at for r in runs if r.status == "ok" and r.finished_at is not None]
    if not finished or now - max(finished) > STALE_AFTER:
        since = f"since {max(finished):%Y-%m-%d %H:%M}" if finished else "ever"
        notes.append(f"no successful run {since}: is the schedule running?")
    share = latest.counts.get("unthemed_share")
    if isinstance(share, int | float) and share > HIGH_UNTHEMED:
        notes.append(f"{share:.0%} of the last run's new claims joined no theme")
    for feed in feeds:
        if feed.stopped:
            notes.append(
                f"feed '{feed.name}' is gone (HTTP 410) and is no longer fetched: remove it from the sources file"
            )
        elif feed.failures >= FAILING_FEED:
            notes.append(f"feed '{feed.name}' failed {feed.failures} times in a row: {feed.last_error or 'no detail'}")
        elif feed.quiet:
            notes.append(f"feed '{feed.name}' has gone quiet (no new items where it used to publish)")
    if deliveries.get("unknown"):
        notes.append(
            f"{deliveries['unknown']} deliveries in the last 7 days may or may not have arrived (connection dropped "
            "during sending); they are not resent"
        )
    if deliveries.get("bounced"):
        notes.append(f"{deliveries['bounced']} deliveries in the last 7 days bounced: check those addresses")
    if queued_unsubscribes:
        notes.append(f"{queued_unsubscribes} unsubscribes wait in the queue for the next run")
    return notes
