"""Scheduled runs: the daily flow as a Prefect deployment with a cron schedule, served by `undercurrent serve`.

The deployment's parameters are plain strings (Prefect stores them as JSON); the run date is the day the run
starts, in the schedule's time zone. A scheduled run that finds another run holding the database completes
without doing anything and says so in its result.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow

from core.settings import Settings
from flows.daily import RunPaths, daily
from flows.runlock import RunInProgress

DEPLOYMENT = "undercurrent-daily"
log = logging.getLogger("undercurrent.schedule")


@flow(name="daily-scheduled", log_prints=False)
def scheduled_daily(
    db: str, sources: str | None = None, outbox: str | None = None, timezone: str = "UTC"
) -> dict[str, Any]:
    """Today's run (in ``timezone``) of the daily flow, for the schedule."""
    run_date = datetime.now(ZoneInfo(timezone)).date()
    paths = RunPaths(Path(db), Path(sources) if sources else None, Path(outbox) if outbox else None)
    try:
        result = daily(run_date, paths)
    except RunInProgress as exc:
        log.warning("%s", exc)
        return {"skipped": str(exc)}
    return {"run_id": result.run_id, "run_date": run_date.isoformat(), **result.counts}


def deployment(settings: Settings) -> Any:
    """The deployment `undercurrent serve` registers: the schedule and the paths from the settings."""
    from prefect.schedules import Cron

    return scheduled_daily.to_deployment(
        name=DEPLOYMENT,
        schedule=Cron(settings.schedule_cron, timezone=settings.schedule_timezone),
        parameters={
            "db": str(settings.db.resolve()),
            "sources": str(settings.sources.resolve()) if settings.sources else None,
            "outbox": str(settings.outbox.resolve()),
            "timezone": settings.schedule_timezone,
        },
        description="Fetch sources, extract claims, update themes, build and deliver the brief.",
    )
