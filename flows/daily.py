"""The Prefect flow ``daily``: it only sequences the stages; each task is one unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from cluster.embed import Embedder
from core.errors import UserError
from core.settings import Settings
from digest.delivery import Mailer, OutboxMailer, SmtpMailer
from digest.render import Rendered
from extract.fetch import Fetcher, HttpFetcher, MirrorFetcher
from extract.sources import parse_sources
from flows import ingestion, stages
from store import runs
from store.db import connect


@dataclass(frozen=True)
class Mirror:
    """Serve URLs under base_url from a local folder (the bundled sample, offline runs)."""

    base_url: str
    root: Path


def _fetcher(settings: Settings, mirror: Mirror | None) -> Fetcher:
    if mirror is not None:
        return MirrorFetcher(mirror.base_url, mirror.root)
    return HttpFetcher(allow_private=settings.allow_private_networks)


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url.reveal())
    return OutboxMailer(settings.outbox)


def load_sources_file(path: Path | None) -> list:
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read sources file {path}: {exc.strerror}") from None
    return parse_sources(text, str(path))


@task(cache_policy=NONE, retries=0)
def ingest_task(settings: Settings, mirror: Mirror | None) -> dict[str, Any]:
    sources = load_sources_file(settings.sources)
    if not sources:
        return {"documents_new": 0, "documents_seen": 0, "errors": []}
    fetcher = _fetcher(settings, mirror)
    with connect(settings.db) as con:
        report = ingestion.ingest_sources(con, sources, fetcher)
    return {"documents_new": report.new_documents, "documents_seen": report.seen_documents, "errors": report.errors}


@task(cache_policy=NONE)
def claims_task(settings: Settings, run_date: date) -> dict[str, int]:
    with connect(settings.db) as con:
        return stages.claims_stage(con, run_date)


@task(cache_policy=NONE)
def themes_task(settings: Settings, run_date: date) -> dict[str, int]:
    with connect(settings.db) as con:
        return stages.themes_stage(con, Embedder(), run_date)


@task(cache_policy=NONE)
def digest_task(settings: Settings, run_date: date, run_id: str) -> Rendered | None:
    with connect(settings.db) as con:
        return stages.digest_stage(con, run_date, run_id)


@task(cache_policy=NONE)
def deliver_task(settings: Settings, run_date: date, rendered: Rendered) -> dict[str, int]:
    with connect(settings.db) as con:
        report = stages.deliver_stage(con, run_date, rendered, _mailer(settings), settings.mail_from)
    return {"deliveries_sent": report.sent, "deliveries_failed": report.failed}


@dataclass(frozen=True)
class RunResult:
    run_id: str
    run_date: date
    counts: dict[str, Any]
    errors: list[str]
    rendered: Rendered | None


@flow(name="daily", log_prints=False, validate_parameters=False)
def daily(settings: Settings, run_date: date, mirror: Mirror | None = None) -> RunResult:
    """Fetch configured sources, extract claims, update themes, build and deliver the digest for run_date."""
    run_id = uuid.uuid4().hex[:16]
    with connect(settings.db) as con:
        runs.start_run(con, run_id, run_date)
    counts: dict[str, Any] = {}
    errors: list[str] = []
    try:
        ingested = ingest_task(settings, mirror)
        errors.extend(ingested.pop("errors"))
        counts.update(ingested)
        counts.update(claims_task(settings, run_date))
        counts.update(themes_task(settings, run_date))
        rendered = digest_task(settings, run_date, run_id)
        counts["digest_items"] = 0 if rendered is None else rendered.markdown.count("\n## ")
        if rendered is not None:
            counts.update(deliver_task(settings, run_date, rendered))
    except BaseException as exc:
        with connect(settings.db) as con:
            runs.finish_run(con, run_id, "failed", counts, [*errors, f"{type(exc).__name__}: {exc}"])
        raise
    with connect(settings.db) as con:
        runs.finish_run(con, run_id, "ok", counts, errors)
        con.execute("CHECKPOINT")
    return RunResult(run_id, run_date, counts, errors, rendered)
