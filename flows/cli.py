"""The ``undercurrent`` command line. Every command takes --db; mistakes give one line, never a traceback."""

from __future__ import annotations

import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from core.errors import UndercurrentError, UserError
from core.settings import Settings, load_settings
from flows import research
from flows.research import db_option
from flows.runlock import EXIT_RUN_IN_PROGRESS, RunInProgress


def parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"invalid date {value!r}: expected YYYY-MM-DD, e.g. 2026-11-21") from None


def _settings(**overrides: Any) -> Settings:
    return load_settings(**overrides)


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="undercurrent", prog_name="undercurrent")
def cli() -> None:
    """Undercurrent: the claims and recurring themes in news and podcasts about the AI strategies of
    China and the United States, stored in DuckDB and sent as a daily top-5 brief.

    Start with 'undercurrent demo' to run everything on the bundled sample corpus.
    """


@cli.command()
@db_option
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("undercurrent-demo"),
    show_default=True,
    help="Folder for the brief (HTML, Markdown, text) and the outbox.",
)
@click.option(
    "--date",
    "day",
    metavar="YYYY-MM-DD",
    default=None,
    help="Date of the brief (default: the sample's last day, 2026-11-21).",
)
def demo(db: str | None, out: Path, day: str | None) -> None:
    """Run the whole pipeline offline on the bundled sample corpus and show the brief.

    Ingests the sample feeds and podcast transcripts, extracts claims, finds themes with the
    embedding model, builds the top-5 brief, writes it to --out and prints it.
    """
    _quiet_prefect()
    from flows.demo import run_demo

    run_demo(_settings(db=db, outbox=out / "outbox"), out, parse_date(day))


@cli.command()
@db_option
@click.argument("targets", nargs=-1, required=True, metavar="PATH_OR_URL...")
def ingest(db: str | None, targets: tuple[str, ...]) -> None:
    """Ingest files, folders or URLs: pages (.html), text (.txt/.md), transcripts (.srt/.vtt/.json),
    feeds (.xml/.rss/.atom), or feed and page URLs. Claims are extracted by the next 'run'."""
    from extract.fetch import HttpFetcher
    from flows.ingestion import ingest_paths
    from store.db import connect

    settings = _settings(db=db)
    fetcher = HttpFetcher(allow_private=settings.allow_private_networks)
    with fetcher, connect(settings.db) as con:
        report = ingest_paths(con, list(targets), fetcher)
    click.echo(
        f"{report.new_documents} new documents, {report.seen_documents} already known, {len(report.errors)} skipped"
    )
    for error in report.errors:
        click.echo(f"  skipped: {error}", err=True)


@cli.command()
@db_option
@click.option("--date", "day", metavar="YYYY-MM-DD", default=None, help="Run date (default: today, UTC).")
@click.option(
    "--sources",
    "sources",
    metavar="PATH",
    default=None,
    help="Sources file (default: $UNDERCURRENT_SOURCES; none: process what was ingested).",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    default=None,
    help="Extract claims and embed on this Dask scheduler (tcp://host:8786), or 'local:N' for N processes here "
    "(default: $UNDERCURRENT_DASK_ADDRESS; none: in this process). The database is written only from here.",
)
def run(db: str | None, day: str | None, sources: str | None, dask_address: str | None) -> None:
    """Run the daily pipeline: fetch sources, extract claims, update themes, build and deliver the brief.

    Without SMTP settings the brief is written as .eml files to $UNDERCURRENT_OUTBOX (./outbox).
    A rerun for a date reuses its brief and sends it only to subscribers who have not had it."""
    from datetime import UTC, datetime

    _quiet_prefect()
    from flows.daily import RunPaths, daily, mailer_for
    from flows.runlock import ensure_no_run
    from flows.sourcesfile import load_sources_file
    from store.db import open_db

    run_date = parse_date(day) or datetime.now(UTC).date()
    settings = _settings(db=db, sources=sources, dask_address=dask_address)
    if settings.db.parent.is_dir():
        ensure_no_run(settings.db)  # before anything opens the database
    # Surface every mistake in the settings as one line before Prefect starts.
    load_sources_file(settings.sources)
    mailer_for(settings)
    open_db(settings.db).close()
    from flows.progress import on_terminal

    with on_terminal():
        result = daily(
            run_date, RunPaths(settings.db, settings.sources, settings.outbox, dask_address=settings.dask_address)
        )
    _print_counts(result.counts, result.errors)


def _print_counts(counts: dict[str, Any], errors: list[str]) -> None:
    click.echo(
        ", ".join(
            f"{key.replace('_', ' ')}: {value}" for key, value in counts.items() if not key.startswith("seconds_")
        )
    )
    stages = [(key.removeprefix("seconds_"), value) for key, value in counts.items() if key.startswith("seconds_")]
    if stages:
        click.echo("took: " + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in stages))
    for error in errors:
        click.echo(f"  warning: {error}", err=True)


@cli.command()
@db_option
@click.option("--check", is_flag=True, help="exit with code 1 when anything needs attention (for monitoring)")
def status(db: str | None, check: bool) -> None:
    """The last runs, feed health, deliveries, and anything that needs the operator's attention."""
    from datetime import UTC, datetime, timedelta

    from extract.schedule import ACTIVE_WINDOW, is_quiet
    from flows.status import FeedRow, RunRow, attention
    from flows.tables import print_table
    from flows.unsubscribe import queue_path
    from store.db import connect
    from store.feeds import health, published_dates
    from store.runs import delivery_outcomes, recent_runs

    path = _settings(db=db).db
    now = datetime.now(UTC).replace(tzinfo=None)
    with connect(path, must_exist=True) as con:
        runs = [RunRow(*row) for row in recent_runs(con)]
        feed_rows = health(con, now)
        feeds = [
            FeedRow(r[1], r[7], r[9], is_quiet(published_dates(con, r[0], now - ACTIVE_WINDOW), now), r[6])
            for r in feed_rows
        ]
        deliveries = delivery_outcomes(con, now.date() - timedelta(days=7))
    queued = len(queue_path(path).read_text().split()) if queue_path(path).exists() else 0
    if runs:
        table = []
        for run in runs:
            c = run.counts
            took = sum(v for k, v in c.items() if k.startswith("seconds_"))
            table.append(
                [
                    str(run.run_date),
                    f"{run.started_at:%Y-%m-%d %H:%M}",
                    f"{took:.0f} s" if took else "—",
                    run.status,
                    c.get("documents_new", "—"),
                    c.get("claims_extracted", "—"),
                    c.get("themes_created", "—"),
                    f"{c['unthemed_share']:.0%}" if isinstance(c.get("unthemed_share"), int | float) else "—",
                    c.get("digest_items", "—"),
                    c.get("deliveries_sent", "—"),
                    len(run.errors),
                ]
            )
        print_table(
            [
                "date",
                "started (UTC)",
                "took",
                "status",
                "new docs",
                "claims",
                "new themes",
                "unthemed",
                "brief",
                "sent",
                "errors",
            ],
            table,
        )
    healthy = sum(1 for f in feeds if not f.stopped and f.failures == 0)
    click.echo(
        f"feeds: {len(feeds)} ({healthy} healthy, {sum(f.failures > 0 and not f.stopped for f in feeds)} failing, "
        f"{sum(f.stopped for f in feeds)} gone, {sum(f.quiet for f in feeds)} quiet); deliveries in 7 days: "
        + (", ".join(f"{n} {s}" for s, n in sorted(deliveries.items())) or "none")
    )
    notes = attention(runs, feeds, deliveries, queued, now)
    if notes:
        click.echo("needs attention:")
        for note in notes:
            click.echo(f"  - {note}")
    else:
        click.echo("nothing needs attention")
    if check and notes:
        raise click.exceptions.Exit(1)


@cli.group()
def sources() -> None:
    """The feeds Undercurrent reads: their health, and OPML import."""


@sources.command("list")
@db_option
@click.option(
    "--sources",
    "sources_path",
    metavar="PATH",
    default=None,
    help="Sources file (default: $UNDERCURRENT_SOURCES); its feeds are listed even before a first run.",
)
def sources_list(db: str | None, sources_path: str | None) -> None:
    """Each feed's health: last success, last error, consecutive failures, next check, items in 7 days."""
    from datetime import UTC, datetime

    from extract.schedule import ACTIVE_WINDOW, is_quiet
    from flows.sourcesfile import load_sources_file
    from flows.tables import print_table
    from store.db import connect
    from store.documents import upsert_sources
    from store.feeds import health, published_dates

    settings = _settings(db=db, sources=sources_path)
    configured = load_sources_file(settings.sources)
    now = datetime.now(UTC).replace(tzinfo=None)
    with connect(settings.db) as con:
        upsert_sources(con, configured)
        rows = health(con, now)
        quiet = {r[0] for r in rows if is_quiet(published_dates(con, r[0], now - ACTIVE_WINDOW), now)}
    if not rows:
        click.echo(
            "no feeds yet: list them in a sources file (see README) and pass --sources or set UNDERCURRENT_SOURCES"
        )
        return
    table = []
    for source_id, name, kind, _url, ok_at, err_at, error, failures, next_at, stopped, week in rows:
        status = "stopped (410)" if stopped else "failing" if failures else "ok" if ok_at else "not fetched yet"
        status += ", quiet" if source_id in quiet else ""
        table.append(
            [
                name,
                kind,
                status,
                _when(ok_at),
                _when(err_at),
                (error or "")[:60],
                failures,
                "never" if stopped else "now" if next_at is None or next_at <= now else _when(next_at),
                week,
            ]
        )
    print_table(
        ["feed", "kind", "status", "last success", "last error", "error", "failures", "next check", "items 7d"], table
    )


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else "—"


@sources.command("import")
@click.argument("opml", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sources",
    "sources_path",
    metavar="PATH",
    default=None,
    help="TOML sources file to add to (default: $UNDERCURRENT_SOURCES, else ./sources.toml).",
)
@click.option(
    "--kind",
    type=click.Choice(["news", "podcast"]),
    default="news",
    show_default=True,
    help="Kind for feeds the OPML does not mark as podcasts.",
)
@db_option
def sources_import(opml: Path, sources_path: str | None, kind: str, db: str | None) -> None:
    """Add the feeds of an OPML file (exported from a feed reader) to the sources file."""
    from flows.sourcesfile import import_opml

    target = _settings(db=db, sources=sources_path).sources or Path("sources.toml")
    added, present = import_opml(opml, target, kind)
    click.echo(f"added {added} feeds to {target} ({present} already there)")


@cli.group()
def subscribers() -> None:
    """Manage who receives the daily brief."""


@subscribers.command("add")
@db_option
@click.argument("email")
def subscribers_add(db: str | None, email: str) -> None:
    """Subscribe EMAIL (or reactivate it)."""
    from store.db import connect
    from store.digests import add_subscriber

    address = _valid_email(email)
    with connect(_settings(db=db).db) as con:
        added = add_subscriber(con, address)
    click.echo(f"subscribed {address}" if added else f"{address} is already subscribed")


@subscribers.command("remove")
@db_option
@click.argument("email")
def subscribers_remove(db: str | None, email: str) -> None:
    """Unsubscribe EMAIL (its delivery history is kept)."""
    from store.db import connect
    from store.digests import remove_subscriber

    address = _valid_email(email)
    with connect(_settings(db=db).db) as con:
        removed = remove_subscriber(con, address)
    if not removed:
        raise UserError(f"{address} is not an active subscriber")
    click.echo(f"unsubscribed {address}")


@cli.command()
@db_option
@click.option("--sources", metavar="PATH", default=None, help="Sources file (default: $UNDERCURRENT_SOURCES).")
def serve(db: str | None, sources: str | None) -> None:
    """Run the daily flow on a schedule: register it with the Prefect server as the deployment
    'daily-scheduled/undercurrent-daily' (cron and time zone from UNDERCURRENT_SCHEDULE_CRON and
    UNDERCURRENT_SCHEDULE_TIMEZONE) and keep serving it until stopped.

    Point PREFECT_API_URL at your Prefect server (see README, "Running on a server")."""
    from prefect import serve as prefect_serve

    from flows.schedule import deployment
    from flows.sourcesfile import load_sources_file
    from store.db import open_db

    settings = _settings(db=db, sources=sources)
    load_sources_file(settings.sources)  # mistakes in the settings surface now, not at six in the morning
    open_db(settings.db).close()
    click.echo(
        f"serving the daily run at '{settings.schedule_cron}' ({settings.schedule_timezone}) on {settings.db}; "
        "Ctrl-C stops",
        err=True,
    )
    prefect_serve(deployment(settings))


@cli.command("serve-unsubscribe")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8750, show_default=True, type=click.IntRange(1, 65535), help="port to listen on")
def serve_unsubscribe(db: str | None, host: str, port: int) -> None:
    """Serve one-click unsubscribe links (RFC 8058): GET shows a page and changes nothing, POST unsubscribes.

    Put it behind your HTTPS proxy and set UNDERCURRENT_PUBLIC_URL to its public address, so every message
    carries List-Unsubscribe and List-Unsubscribe-Post headers with the subscriber's own link."""
    from flows.unsubscribe import make_server
    from store.db import connect
    from store.digests import ensure_tokens

    path = _settings(db=db).db
    with connect(path, must_exist=True) as con:
        ensure_tokens(con)  # migrated, and every subscriber has a token, before anyone clicks
    try:
        server = make_server(path, host, port)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"serving unsubscribe links on http://{host}:{server.server_port}/unsubscribe (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@subscribers.command("prefs")
@db_option
@click.argument("email")
@click.option(
    "--focus",
    type=click.Choice(["cn", "us", "both"], case_sensitive=False),
    help="only insights whose actors include China (cn), the United States (us), or all (both)",
)
@click.option("--follow", type=int, multiple=True, metavar="THEME_ID", help="a theme to favour (repeatable)")
@click.option("--mute", type=int, multiple=True, metavar="THEME_ID", help="a theme never to show (repeatable)")
@click.option("--clear", is_flag=True, help="back to everything: focus both, no followed or muted themes")
def subscribers_prefs(
    db: str | None, email: str, focus: str | None, follow: tuple[int, ...], mute: tuple[int, ...], clear: bool
) -> None:
    """Show or change what EMAIL's brief favours: a China or US focus, themes followed or muted.

    A subscriber with preferences gets a brief selected for them; the others get the day's brief."""
    from store.db import connect
    from store.digests import set_preferences

    address = _valid_email(email)
    if set(follow) & set(mute):
        raise UserError("a theme cannot be both followed and muted")
    with connect(_settings(db=db).db, must_exist=True) as con:
        try:
            prefs = set_preferences(
                con, address, focus.upper() if focus and focus != "both" else focus, list(follow), list(mute), clear
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if prefs is None:
        raise UserError(f"{address} is not a subscriber; add it with 'undercurrent subscribers add {address}'")
    followed = ", ".join(map(str, sorted(prefs.follow))) or "none"
    muted = ", ".join(map(str, sorted(prefs.mute))) or "none"
    click.echo(f"{address}: focus {prefs.focus}; following {followed}; muted {muted}")


@subscribers.command("list")
@db_option
def subscribers_list(db: str | None) -> None:
    """List subscribers and their status."""
    from store.db import connect
    from store.digests import list_subscribers

    with connect(_settings(db=db).db, must_exist=True) as con:
        rows = list_subscribers(con)
    if not rows:
        click.echo("no subscribers yet: add one with 'undercurrent subscribers add EMAIL'")
    for email, status, created in rows:
        click.echo(f"{email}\t{status}\tsince {created:%Y-%m-%d}")


_EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
)


def _valid_email(email: str) -> str:
    """One plain address (no display name, no list), lower-cased."""
    address = email.strip().lower()
    if len(address) > 254 or not _EMAIL.match(address):
        raise UserError(f"{email!r} is not a single email address like name@example.org")
    return address


@cli.group(invoke_without_command=True)
@db_option
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Show at most this many themes."
)
@click.pass_context
def themes(ctx: click.Context, db: str | None, limit: int) -> None:
    """List themes: claims, documents and sources overall; on the theme's latest day its claims, momentum (its
    share of that day's themed claims against its share over the 14 days before; 1.0 = as usual) and how many
    of them concern China and the US. `themes rename` sets a theme's label."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand is not None:
        return
    from flows.tables import print_table
    from store.db import connect
    from store.themes import theme_counts

    with connect(_settings(db=db).db, must_exist=True) as con:
        rows = theme_counts(con)
    if not rows:
        click.echo("no themes yet: run 'undercurrent run' after ingesting documents")
        return
    shown = [
        (*r[:7], r[7], r[8], f"{r[9]:.2f}" if r[9] is not None else ("new" if r[8] else ""), r[10], r[11])
        for r in rows[:limit]
    ]
    headers = ["id", "label", "claims", "documents", "sources", "first seen", "last seen", "latest day", "day claims"]
    print_table([*headers, "momentum", "CN", "US"], shown)


@themes.command("rename")
@db_option
@click.argument("theme_id", type=int)
@click.argument("label", required=False)
@click.option("--clear", is_flag=True, help="Drop the operator's label: the computed one shows again.")
@click.pass_context
def rename(ctx: click.Context, db: str | None, theme_id: int, label: str | None, clear: bool) -> None:
    """Give theme THEME_ID the label LABEL, kept when the theme is relabelled after new claims join it."""
    from store.db import connect
    from store.themes import rename_theme

    if clear == bool(label):
        raise UserError("give either a LABEL or --clear")
    if label is not None and not label.strip():
        raise UserError("the label is empty")
    with connect(_settings(db=db or ctx.obj["db"]).db, must_exist=True) as con:
        if not rename_theme(con, theme_id, label.strip() if label else None):
            raise UserError(f"no theme {theme_id}; 'undercurrent themes' lists them")
    click.echo(f"theme {theme_id}: " + (f"labelled {label.strip()!r}" if label else "computed label restored"))


@themes.command("merge")
@db_option
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.pass_context
def merge(ctx: click.Context, db: str | None, old: int, new: int) -> None:
    """Merge theme OLD into theme NEW: its claims move, OLD is retired (its id is never reused) and the change
    is recorded in theme_changes."""
    from flows.stages import relabel
    from store.db import connect, transaction, utc_now
    from store.themes import merge_themes, refresh_seen

    with connect(_settings(db=db or ctx.obj["db"]).db, must_exist=True) as con:
        try:
            with transaction(con):
                moved = merge_themes(con, old, new, utc_now().date())
                relabel(con)
                refresh_seen(con)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    click.echo(f"theme {old} merged into {new}: {moved} claim{'s' if moved != 1 else ''} moved")


@themes.command("recluster")
@db_option
@click.pass_context
def recluster(ctx: click.Context, db: str | None) -> None:
    """Cluster every claim afresh and map the result onto the existing theme ids (merges, splits and new themes
    are recorded in theme_changes; no theme is renumbered)."""
    from cluster.embed import theme_embedder
    from flows.stages import recluster_stage
    from store.db import connect, utc_now

    with connect(_settings(db=db or ctx.obj["db"]).db, must_exist=True) as con:
        counts = recluster_stage(con, theme_embedder(), utc_now().date())
    click.echo(
        f"{counts['claims_moved']} claims moved, {counts['themes_merged']} themes merged, "
        f"{counts['themes_created']} themes created"
    )


for _command in research.COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear line on stderr and a non-zero exit for every error a user can cause."""
    try:
        code = cli.main(args=argv, prog_name="undercurrent", standalone_mode=False)
        if isinstance(code, int):  # click returns an Exit's code instead of raising it here
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:
        hint = (
            f" (see 'undercurrent {exc.ctx.command_path.partition(' ')[2]} --help')".replace("  ", " ")
            if exc.ctx
            else ""
        )
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except RunInProgress as exc:
        click.echo(str(exc), err=True)
        return EXIT_RUN_IN_PROGRESS
    except UndercurrentError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
