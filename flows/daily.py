"""The Prefect flow ``daily``: it only sequences the stages; each task is one unit of work.

Flow and task parameters are plain, non-secret values (paths, a date): Prefect stores parameters, so
secrets such as the SMTP password are read from the settings inside the tasks that need them.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from cluster.embed import shared_embedder, theme_embedder
from core.settings import Settings, load_settings
from digest.delivery import Mailer, OutboxMailer, SmtpMailer
from digest.render import Rendered
from extract.fetch import HttpFetcher, MirrorFetcher
from flows import scaleout, stages
from flows.polling import poll_sources
from flows.runlock import run_lock
from flows.sourcesfile import load_sources_file
from flows.unsubscribe import apply_queued_unsubscribes
from store import runs
from store.db import connect, utc_now

log = logging.getLogger("undercurrent.run")


@dataclass(frozen=True)
class Mirror:
    """Serve URLs under base_url from a local folder (the bundled sample, offline runs)."""

    base_url: str
    root: Path


@dataclass(frozen=True)
class RunPaths:
    """Where a run reads and writes; None means "from the settings" (environment or config file)."""

    db: Path
    sources: Path | None = None
    outbox: Path | None = None
    outbox_only: bool = False  # write .eml files even when SMTP is configured (the demo)
    dask_address: str | None = None  # run claim extraction on this Dask cluster (None: as the settings say)


def settings_for(paths: RunPaths) -> Settings:
    return load_settings(db=paths.db, sources=paths.sources, outbox=paths.outbox, dask_address=paths.dask_address)


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url.reveal())
    return OutboxMailer(settings.outbox)


@task(cache_policy=NONE)
def ingest_task(paths: RunPaths, mirror: Mirror | None) -> dict[str, Any]:
    settings = settings_for(paths)
    sources = load_sources_file(settings.sources)
    if not sources:
        return {"documents_new": 0, "documents_seen": 0, "documents_non_english": 0, "errors": [], "warnings": []}
    with connect(settings.db) as con:
        if mirror is not None:
            report = poll_sources(con, sources, MirrorFetcher(mirror.base_url, mirror.root), utc_now())
        else:
            with HttpFetcher(allow_private=settings.allow_private_networks) as fetcher:
                report = poll_sources(con, sources, fetcher, utc_now())
    return {
        "documents_new": report.new_documents,
        "documents_seen": report.seen_documents,
        "documents_non_english": report.non_english,
        "errors": report.errors,
        "warnings": report.warnings,
    }


@task(cache_policy=NONE)
def claims_task(paths: RunPaths, run_date: date) -> dict[str, Any]:
    """Claims of the new documents: on the Dask cluster the settings name, else (or when it is down) here.

    The database is written only from here either way."""
    settings = settings_for(paths)
    warnings: list[str] = []
    if settings.dask_address:
        try:
            return {"warnings": [], **scaleout.claims_on_dask(paths.db, settings, run_date, settings.dask_address)}
        except scaleout.ClusterUnreachable as exc:
            log.warning("%s; extracting claims in this process instead", exc)
            warnings.append(f"{exc}; claims were extracted in this process instead")
    llm = scaleout.llm_judge(settings)
    try:
        with connect(paths.db) as con:
            return {"warnings": warnings, **stages.claims_stage(con, run_date, shared_embedder(), llm)}
    finally:
        if llm is not None:
            llm.close()


@task(cache_policy=NONE)
def themes_task(paths: RunPaths, run_date: date) -> dict[str, Any]:
    """The day's claims into themes; then, when due, the periodic full re-clustering (ids kept)."""
    settings = settings_for(paths)
    with connect(paths.db) as con:
        stages.claim_vectors_stage(con, shared_embedder(), run_date)  # for search, in plain MiniLM
        counts: dict[str, Any] = dict(stages.themes_stage(con, theme_embedder(), run_date))
        if stages.recluster_due(con, run_date, settings.recluster_days):
            reclustered = stages.recluster_stage(con, theme_embedder(), run_date)
            counts.update({f"recluster_{key}": value for key, value in reclustered.items()})
    return counts


@task(cache_policy=NONE)
def digest_task(paths: RunPaths, run_date: date, run_id: str) -> stages.BuiltDigest | None:
    with connect(paths.db) as con:
        return stages.digest_stage(con, run_date, run_id)


@task(cache_policy=NONE)
def deliver_task(paths: RunPaths, run_date: date, rendered: Rendered) -> dict[str, int]:
    settings = settings_for(paths)
    with connect(settings.db) as con:
        mailer = OutboxMailer(settings.outbox) if paths.outbox_only else mailer_for(settings)
        applied = apply_queued_unsubscribes(con, settings.db)
        report = stages.deliver_stage(con, run_date, rendered, mailer, settings.mail_from, settings.public_url)
    return {
        "unsubscribes_applied_from_queue": applied,
        "deliveries_sent": report.sent,
        "deliveries_failed": report.failed,
        "deliveries_uncertain": report.uncertain,
        "deliveries_personalised": report.personalised,
        "deliveries_skipped_by_preferences": report.skipped,
    }


def tell_operator(settings: Settings, run_date: date, run_id: str, reason: str) -> None:
    """A failed run is never silent: an error line in the log always, and an email to the operator when SMTP and
    an operator address are configured (best effort: a mail failure is logged, it does not hide the run's)."""
    log.error("run %s for %s failed: %s", run_id, run_date, reason)
    if not (settings.smtp_url and settings.operator_email):
        return
    from email.message import EmailMessage
    from email.policy import SMTP

    from digest.render import single_line

    message = EmailMessage(policy=SMTP)
    message["From"] = settings.mail_from
    message["To"] = settings.operator_email
    message["Subject"] = single_line(f"Undercurrent: the run for {run_date} failed")
    message.set_content(
        f"The Undercurrent run {run_id} for {run_date} failed:\n\n{reason}\n\n"
        "'undercurrent status' shows the last runs and what needs attention. A rerun for the same date is safe.\n"
    )
    try:
        SmtpMailer(settings.smtp_url.reveal(), timeout=20).send(message, "")
    except Exception as exc:  # telling the operator must not mask the run's own failure
        log.error("could not email the operator about it: %s", exc)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    run_date: date
    counts: dict[str, Any]
    errors: list[str]
    warnings: list[str]
    rendered: Rendered | None


@flow(name="daily", log_prints=False, validate_parameters=False)
def daily(run_date: date, paths: RunPaths, mirror: Mirror | None = None) -> RunResult:
    """Fetch configured sources, extract claims, update themes, build and deliver the digest for run_date.

    One run at a time per database: a second one raises RunInProgress before it touches anything."""
    with run_lock(paths.db):
        return _daily(run_date, paths, mirror)


def _daily(run_date: date, paths: RunPaths, mirror: Mirror | None) -> RunResult:
    run_id = uuid.uuid4().hex[:16]
    with connect(paths.db) as con:
        runs.start_run(con, run_id, run_date)
    counts: dict[str, Any] = {}
    errors: list[str] = []
    warnings: list[str] = []
    rendered: Rendered | None = None
    clock = time.perf_counter()

    def took(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        counts[f"seconds_{stage}"] = round(now - clock, 2)
        clock = now

    try:
        ingested = ingest_task(paths, mirror)
        took("ingest")
        errors.extend(ingested.pop("errors"))
        warnings.extend(ingested.pop("warnings"))
        counts.update(ingested)
        extracted = claims_task(paths, run_date)
        warnings.extend(extracted.pop("warnings"))
        counts.update(extracted)
        took("claims")
        counts.update(themes_task(paths, run_date))
        took("themes")
        built = digest_task(paths, run_date, run_id)
        took("digest")
        counts["digest_items"] = built.items if built else 0
        if built is not None:
            rendered = built.rendered
            create_markdown_artifact(
                markdown=rendered.markdown,
                key=f"digest-{run_date.isoformat()}",
                description=f"The brief for {run_date.isoformat()}: {rendered.subject}",
            )
            counts.update(deliver_task(paths, run_date, rendered))
            took("deliver")
    except BaseException as exc:
        with connect(paths.db) as con:
            runs.finish_run(con, run_id, "failed", counts, [*errors, f"{type(exc).__name__}: {exc}"], warnings)
        try:
            tell_operator(settings_for(paths), run_date, run_id, f"{type(exc).__name__}: {exc}")
        except Exception as notice:  # bad settings must not hide why the run failed
            log.error("run %s for %s failed (%s); the operator could not be told: %s", run_id, run_date, exc, notice)
        raise
    with connect(paths.db) as con:
        runs.finish_run(con, run_id, "ok", counts, errors, warnings)
        con.execute("CHECKPOINT")
    return RunResult(run_id, run_date, counts, errors, warnings, rendered)
