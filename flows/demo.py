"""``undercurrent demo``: the daily flow on the bundled sample corpus, offline."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

import sample
from core.errors import UserError
from core.settings import Settings
from flows.daily import Mirror, RunPaths, daily
from flows.progress import on_terminal
from store.db import connect
from store.digests import add_subscriber

SAMPLE_DATE = date(2026, 11, 21)
DEMO_SUBSCRIBER = "reader@example.com"


def _check_sample_only(settings: Settings) -> None:
    """Refuse to mix sample data into a database that holds real sources."""
    with connect(settings.db) as con:
        foreign = con.execute(
            "SELECT count(*) FROM sources WHERE url <> '' AND NOT starts_with(url, ?)", [sample.BASE_URL]
        ).fetchone()[0]  # type: ignore[index]
        if foreign:
            raise UserError(f"{settings.db} holds non-sample sources; run the demo with --db demo.duckdb")
        if not con.execute("SELECT count(*) FROM subscribers").fetchone()[0]:  # type: ignore[index]
            add_subscriber(con, DEMO_SUBSCRIBER)


def run_demo(settings: Settings, out: Path, day: date | None) -> None:
    run_date = day or SAMPLE_DATE
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror}") from None
    _check_sample_only(settings)
    click.echo(f"Running the daily pipeline on the bundled sample for {run_date} (database {settings.db}) …", err=True)
    paths = RunPaths(settings.db, sample.SOURCES, settings.outbox, outbox_only=True)
    with on_terminal():
        result = daily(run_date, paths, Mirror(sample.BASE_URL, sample.SITE))
    counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.counts.items())
    click.echo(counts, err=True)
    if result.rendered is None:
        raise UserError(f"the sample produced no digest for {run_date}")
    for name, body in (
        ("digest.html", result.rendered.html),
        ("digest.md", result.rendered.markdown),
        ("digest.txt", result.rendered.text),
    ):
        (out / name).write_text(body, encoding="utf-8")
    click.echo(result.rendered.text)
    click.echo(
        f"Written: {out / 'digest.html'}, {out / 'digest.md'}, {out / 'digest.txt'}; "
        f"email in {settings.outbox}; data in {settings.db}",
        err=True,
    )
