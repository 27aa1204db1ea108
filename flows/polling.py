"""Polling configured feeds: due feeds only, conditional GET, error counting with backoff, 410, quiet feeds.

Feeds are fetched in parallel, then every new entry's page or transcript is fetched in parallel too, the
jobs interleaved across feeds so that one busy host does not hold up the others (the fetcher keeps each host
to its own limit). This thread alone writes to the database, feed by feed and entry by entry in feed order.
A feed's new validators and health are saved only after its entries are stored, so a crash in between
fetches the feed again instead of skipping what it carried.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest

import duckdb

from core.models import Document, Source
from extract.feeds import FeedEntry, parse_feed
from extract.fetch import FEED_CAP, Fetcher, FetchError, FetchResult, Gone, Validators
from extract.schedule import ACTIVE_WINDOW, FeedState, after_failure, after_success, is_due, is_quiet
from flows import progress
from flows.ingestion import (
    WORKERS,
    IngestReport,
    describe,
    entry_document,
    new_entries,
    record_failure,
    store_entries,
)
from store import documents as docstore
from store import feeds as feedstore

log = logging.getLogger("undercurrent.polling")


@dataclass
class _Feed:
    source: Source
    state: FeedState
    result: FetchResult | None = None
    entries: list[FeedEntry] | None = None
    jobs: list[Future[Document]] | None = None


def _due(con: duckdb.DuckDBPyConnection, sources: list[Source], now: datetime, report: IngestReport) -> list[_Feed]:
    due = []
    for source in sources:
        state = feedstore.load_state(con, source.source_id)
        if state.stopped:
            report.warnings.append(f"{source.name}: stopped after HTTP 410 Gone; remove it or fix its URL")
        elif not is_due(state, now):
            until = f"{state.next_check_at:%Y-%m-%d %H:%M} UTC"
            report.warnings.append(
                f"{source.name}: backing off after {state.consecutive_failures} failures until {until}"
            )
        else:
            due.append(_Feed(source, state))
    return due


def _fail(con: duckdb.DuckDBPyConnection, feed: _Feed, now: datetime, report: IngestReport, exc: Exception) -> None:
    record_failure(con, report, feed.source.url, feed.source.source_id, exc)
    if isinstance(exc, Gone):
        state = after_failure(feed.state, now, describe(exc), 410, gone=True)
    elif isinstance(exc, FetchError):
        state = after_failure(feed.state, now, describe(exc), exc.status, exc.retry_after)
    else:
        state = after_failure(feed.state, now, describe(exc))
    feedstore.save_state(con, feed.source.source_id, state)


def poll_sources(
    con: duckdb.DuckDBPyConnection, sources: list[Source], fetcher: Fetcher, now: datetime, workers: int = WORKERS
) -> IngestReport:
    """Fetch every due feed and store its new entries; every failure is recorded, never raised."""
    docstore.upsert_sources(con, sources)
    report = IngestReport()
    feeds = _due(con, sources, now, report)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fetch") as pool:
        bodies = [
            pool.submit(fetcher.get, f.source.url, FEED_CAP, Validators(f.state.etag, f.state.last_modified))
            for f in feeds
        ]
        readable: list[_Feed] = []
        for feed, body in zip(feeds, bodies, strict=True):
            try:
                feed.result = body.result()
                if feed.result.not_modified:
                    _succeed(con, feed, now, report, retry_later=False)
                    continue
                parsed = parse_feed(feed.result.content, feed.result.url)
                feed.entries, seen = new_entries(con, feed.source, parsed.entries)
            except Exception as exc:  # whatever a feed does, it is recorded against that feed and the run goes on
                _fail(con, feed, now, report, exc)
                continue
            report.seen_documents += seen
            readable.append(feed)
        # Submit page jobs round-robin across feeds, so that workers are spread over hosts.
        jobs: dict[int, list[Future[Document]]] = {id(f): [] for f in readable}
        for row in zip_longest(*[[(f, e) for e in f.entries or []] for f in readable]):
            for pair in row:
                if pair is not None:
                    feed, entry = pair
                    jobs[id(feed)].append(pool.submit(entry_document, feed.source, entry, fetcher))
        progress.report("ingest", 0, len(feeds))
        for done, feed in enumerate(readable, start=1):
            _store_feed(con, feed, jobs[id(feed)], now, report)
            progress.report("ingest", len(feeds) - len(readable) + done, len(feeds))
    for warning in report.warnings:
        log.warning("%s", warning)
    return report


def _store_feed(
    con: duckdb.DuckDBPyConnection, feed: _Feed, jobs: list[Future[Document]], now: datetime, report: IngestReport
) -> None:
    retry_later = store_entries(con, feed.source, feed.entries or [], jobs, report)
    _succeed(con, feed, now, report, retry_later)


def _succeed(
    con: duckdb.DuckDBPyConnection, feed: _Feed, now: datetime, report: IngestReport, retry_later: bool
) -> None:
    """Save a fetched feed's health and validators (after its entries), and warn when it has gone quiet.

    When an entry failed for a reason that may pass (a timeout, a 503), the old validators are kept, so the
    next run gets the feed in full again instead of a 304, and retries that entry.
    """
    assert feed.result is not None
    source, result = feed.source, feed.result
    kept = Validators(feed.state.etag, feed.state.last_modified)
    validators = kept if retry_later else result.validators
    if result.not_modified and not retry_later:
        fresh = result.validators
        validators = Validators(fresh.etag or feed.state.etag, fresh.last_modified or feed.state.last_modified)
    state = after_success(feed.state, now, result.status, validators.etag, validators.last_modified)
    feedstore.save_state(con, source.source_id, state)
    if is_quiet(feedstore.published_dates(con, source.source_id, now - ACTIVE_WINDOW), now):
        report.warnings.append(f"{source.name}: quiet: a usually active feed has published nothing for 4 days")
