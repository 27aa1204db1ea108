"""Polling configured feeds: due feeds only, conditional GET, error counting with backoff, 410, quiet feeds.

The feed's new validators and health are saved only after its entries are stored, so a crash in between
fetches the feed again instead of skipping what it carried.
"""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb

from core.errors import PermanentError
from core.models import Source
from extract.fetch import FEED_CAP, Fetcher, FetchError, Gone, Validators
from extract.schedule import ACTIVE_WINDOW, after_failure, after_success, is_due, is_quiet
from flows.ingestion import WORKERS, IngestReport, describe, ingest_feed, record_failure
from store import documents as docstore
from store import feeds as feedstore

log = logging.getLogger("undercurrent.polling")


def poll_source(
    con: duckdb.DuckDBPyConnection, source: Source, fetcher: Fetcher, now: datetime, workers: int = WORKERS
) -> IngestReport:
    """Fetch one feed if it is due and store its new entries; every failure is recorded, never raised."""
    report = IngestReport()
    state = feedstore.load_state(con, source.source_id)
    if state.stopped:
        report.warnings.append(f"{source.name}: stopped after HTTP 410 Gone; remove it or fix its URL")
        return report
    if not is_due(state, now):
        until = f"{state.next_check_at:%Y-%m-%d %H:%M} UTC"
        report.warnings.append(f"{source.name}: backing off after {state.consecutive_failures} failures until {until}")
        return report
    try:
        result = fetcher.get(source.url, cap=FEED_CAP, validators=Validators(state.etag, state.last_modified))
        if result.not_modified:
            feedstore.save_state(con, source.source_id, after_success(state, now, 304, None, None))
            return report
        report = ingest_feed(con, source, result.content, fetcher, workers)
    except Gone as exc:
        record_failure(con, report, source.url, source.source_id, exc)
        feedstore.save_state(con, source.source_id, after_failure(state, now, describe(exc), 410, gone=True))
        return report
    except FetchError as exc:
        record_failure(con, report, source.url, source.source_id, exc)
        failed = after_failure(state, now, describe(exc), exc.status, exc.retry_after)
        feedstore.save_state(con, source.source_id, failed)
        return report
    except PermanentError as exc:
        record_failure(con, report, source.url, source.source_id, exc)
        feedstore.save_state(con, source.source_id, after_failure(state, now, describe(exc)))
        return report
    validators = result.validators
    feedstore.save_state(
        con, source.source_id, after_success(state, now, result.status, validators.etag, validators.last_modified)
    )
    if is_quiet(feedstore.published_dates(con, source.source_id, now - ACTIVE_WINDOW), now):
        report.warnings.append(f"{source.name}: quiet: a usually active feed has published nothing for 4 days")
    return report


def poll_sources(
    con: duckdb.DuckDBPyConnection, sources: list[Source], fetcher: Fetcher, now: datetime, workers: int = WORKERS
) -> IngestReport:
    docstore.upsert_sources(con, sources)
    report = IngestReport()
    for source in sources:
        report.add(poll_source(con, source, fetcher, now, workers))
    for warning in report.warnings:
        log.warning("%s", warning)
    return report
