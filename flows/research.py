"""Commands for researchers: sql, search, export, snapshot, theme show and plot (all read the database only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.errors import DatabaseBusy, UserError
from core.settings import load_settings

if TYPE_CHECKING:
    import duckdb

    from store.search import Hit

DB_HELP = "DuckDB file (default: $UNDERCURRENT_DB, else ./undercurrent.duckdb)."


def db_option(function: Any) -> Any:
    return click.option("--db", "db", metavar="PATH", default=None, help=DB_HELP)(function)


READ_WAIT = 5.0  # seconds to wait for a short writer (a CLI command, the unsubscribe server) to let go


def _db(db: str | None) -> Path:
    return load_settings(db=db).db


def busy_hint(db: Path, who: str) -> str:
    return (
        f"{who} is writing {db} now; query a snapshot instead: 'undercurrent snapshot --db {db} SNAPSHOT.duckdb' "
        f"(it waits for the run to finish), then 'undercurrent sql --db SNAPSHOT.duckdb \"…\"'"
    )


def _behind(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the database was written by an older version (its schema lacks this version's migrations)."""
    import duckdb

    from store.db import migrations

    try:
        version = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
    except duckdb.Error:
        return False  # another kind of DuckDB file: plain SQL still works on it
    return version < migrations()[-1][0]


def _upgrade(db: Path) -> None:
    """Bring an older database up to this schema (views included), once, under the run lock (so no run starts
    meanwhile) and with the copy every migration keeps. A file this process cannot write is read as it is."""
    from flows.runlock import RunInProgress, run_lock
    from store.db import connect

    try:
        with run_lock(db), connect(db, busy_wait=READ_WAIT):
            pass
    except RunInProgress:
        raise UserError(busy_hint(db, "a run")) from None
    except (UserError, OSError):
        pass  # a read-only file or folder: read it as it is


@contextmanager
def reading(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection (an older file is upgraded first), or one clear line when a run holds the database."""
    from flows.runlock import holder
    from store.db import open_db

    running = holder(db)
    if running:
        raise UserError(busy_hint(db, f"a run ({running})"))
    try:
        con = open_db(db, read_only=True, must_exist=True, busy_wait=READ_WAIT)
        if _behind(con):
            con.close()
            _upgrade(db)
            con = open_db(db, read_only=True, must_exist=True, busy_wait=READ_WAIT)
    except DatabaseBusy:
        raise UserError(busy_hint(db, "another Undercurrent process")) from None
    try:
        yield con
    finally:
        con.close()


@click.command()
@db_option
@click.argument("query")
@click.option(
    "--max-rows", default=1000, show_default=True, type=click.IntRange(min=1), help="Print at most this many rows."
)
def sql(db: str | None, query: str, max_rows: int) -> None:
    """Run a read-only SQL QUERY against the database and print the result as a table.

    Views for common questions: claim_provenance, theme_timeline, theme_actors, theme_lineage (see the README's
    "Querying the data"). While a run writes the database, query a snapshot (`undercurrent snapshot`).

    Example: undercurrent sql "SELECT label, keywords FROM themes ORDER BY theme_id"
    """
    import duckdb

    from flows.tables import print_table

    with reading(_db(db)) as con:
        con.execute("SET enable_external_access = false")  # no COPY TO, no reading or writing other files
        try:
            cursor = con.execute(query)
        except duckdb.Error as exc:
            raise UserError(f"SQL error: {str(exc).splitlines()[0]}") from None
        if cursor.description is None:
            click.echo("OK")
            return
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchmany(max_rows + 1)
    print_table(columns, rows[:max_rows])
    if len(rows) > max_rows:
        click.echo(f"(more than {max_rows} rows; showing the first {max_rows}; use --max-rows)", err=True)


@click.command()
@db_option
@click.argument("query")
@click.option(
    "--mode",
    type=click.Choice(["semantic", "keyword"]),
    default="semantic",
    show_default=True,
    help="semantic: by meaning (embedding similarity, paraphrases match); keyword: BM25 over the words.",
)
@click.option("-k", "--limit", default=10, show_default=True, type=click.IntRange(1, 1000), help="How many claims.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def search(db: str | None, query: str, mode: str, limit: int, as_json: bool) -> None:
    """Find claims: by meaning (default) or by keywords, each with its theme and source.

    A word-for-word repeat of a claim is shown once, with how many times it was repeated. The first search after
    a run builds an index beside the database (<db>.search); later ones reuse it.
    """
    from store import search as index

    path = _db(db)
    if not query.strip():
        raise UserError("give some words to search for")
    with reading(path):  # a clear line while a run writes, and the views of this version
        pass
    built, rebuilt = index.ensure(path, lambda: click.echo("building the search index (once per run)…", err=True))
    if mode == "keyword":
        hits = index.keyword(built, query, limit)
    else:
        from cluster.embed import Embedder

        hits = index.semantic(built, Embedder().encode([query])[0], limit)
    with reading(path) as con:
        results = _describe(con, hits, limit)
    if as_json:
        for result in results:
            click.echo(json.dumps(result, default=str, ensure_ascii=False))
        return
    if rebuilt:
        claims, with_vectors = index.indexed_counts(built)
        click.echo(f"(indexed {claims} claims, {with_vectors} with vectors)", err=True)
    if not results:
        click.echo("no matching claims")
        return
    from flows.tables import print_table

    rows = [
        (
            n,
            f"{r['score']:.3f}",
            r["text"] + (f" (+{r['repeats']} repeats)" if r["repeats"] else ""),
            f"{r['theme_id']}: {r['theme_label']}" if r["theme_id"] is not None else "unthemed",
            f"{r['source']} ({r['country'] or '?'}), {str(r['published_at'] or '')[:10]}\n{r['url'] or ''}",
        )
        for n, r in enumerate(results, start=1)
    ]
    print_table(["#", "score", "claim", "theme", "source"], rows)


def _describe(con: duckdb.DuckDBPyConnection, hits: list[Hit], limit: int) -> list[dict[str, Any]]:
    """The hits (original claims) with provenance and how many times each was repeated word for word."""
    if not hits:
        return []
    rows = con.execute(
        "SELECT claim_id, original_claim_id, text, theme_id, theme_label, coalesce(source_name, source_id), "
        "source_country, source_state_affiliated, published_at, document_url, document_title, speaker, "
        "start_seconds FROM claim_provenance WHERE claim_id IN (SELECT unnest(?))",
        [[h.claim_id for h in hits]],
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    repeats = dict(
        con.execute(
            "SELECT same_as, count(*) FROM claims WHERE same_as IN (SELECT unnest(?)) GROUP BY 1",
            [sorted({r[1] for r in rows})],
        ).fetchall()
    )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for hit in hits:
        row = by_id.get(hit.claim_id)
        if row is None or row[1] in seen:
            continue
        seen.add(row[1])
        out.append(
            {
                "claim_id": row[1],
                "score": round(hit.score, 4),
                "text": row[2],
                "theme_id": row[3],
                "theme_label": row[4],
                "source": row[5],
                "country": row[6],
                "state_affiliated": row[7],
                "published_at": row[8],
                "url": row[9],
                "title": row[10],
                "speaker": row[11],
                "start_seconds": row[12],
                "repeats": int(repeats.get(row[1], 0)),
            }
        )
        if len(out) == limit:
            break
    return out


@click.command()
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True, help="File format."
)
@click.option(
    "--table",
    "tables",
    multiple=True,
    metavar="NAME",
    help="A table or view to export (repeatable; default: every table).",
)
@click.option("--views", is_flag=True, help="Also export every view (claim_provenance, theme_timeline, …).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("undercurrent-export"),
    show_default=True,
    help="Folder for the files (one per table: NAME.parquet or NAME.csv).",
)
def export(db: str | None, fmt: str, tables: tuple[str, ...], views: bool, out: Path) -> None:
    """Export tables whole, every row, as Parquet or CSV files (one file per table or view)."""
    from store.research import export as write
    from store.research import exportable

    with reading(_db(db)) as con:
        all_tables, all_views = exportable(con)
        names = list(tables) or all_tables
        if views and not tables:
            names += all_views
        try:
            written = write(con, names, out, fmt)
        except OSError as exc:
            raise UserError(f"cannot write to {out}: {exc.strerror}") from None
    for name, rows, path in written:
        click.echo(f"{name}: {rows} rows -> {path}")


@click.command()
@db_option
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace TARGET if it exists.")
@click.option(
    "--wait",
    default=3600,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds to wait for a run in progress to finish.",
)
def snapshot(db: str | None, target: Path, force: bool, wait: int) -> None:
    """Copy the database to TARGET, consistently, to query while runs go on (undercurrent sql --db TARGET).

    A run in progress is waited for (up to --wait seconds): a copy never holds half of a run."""
    import time

    from flows.runlock import holder
    from store.research import snapshot as copy

    path = _db(db)
    if target.exists() and not force:
        raise UserError(f"{target} exists; give another path or --force")
    if target.resolve() == path.resolve():
        raise UserError("the snapshot must be another file than the database")
    if not target.parent.is_dir():
        raise UserError(f"folder {target.parent} does not exist")
    if not path.is_file():
        raise UserError(f"no database at {path}; run 'undercurrent demo' or 'undercurrent run' first")
    deadline = time.monotonic() + wait
    while True:
        running = holder(path)
        if running:
            click.echo(f"waiting for the run in progress ({running}) to finish…", err=True)
        while running:
            if time.monotonic() > deadline:
                raise UserError(f"a run ({running}) still holds {path} after {wait} s; try again later")
            time.sleep(1.0)
            running = holder(path)
        try:
            with reading(path):
                pass  # an older file gets this version's schema (and views) first
            if copy(path, target, busy_wait=60.0, run_started=lambda: holder(path) is not None):
                break
        except UserError as exc:
            if holder(path) is not None:
                continue  # a run began meanwhile: wait for it
            if isinstance(exc, DatabaseBusy):
                raise UserError(busy_hint(path, "another Undercurrent process")) from None
            raise
        except OSError as exc:
            raise UserError(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"snapshot of {path} written to {target} ({target.stat().st_size / 1e6:.1f} MB)")


@click.group()
def theme() -> None:
    """One theme in depth (`theme show ID`)."""


@theme.command("show")
@db_option
@click.argument("theme_id", type=int)
@click.option("--top", default=8, show_default=True, type=click.IntRange(1, 100), help="How many claims to show.")
def theme_show(db: str | None, theme_id: int, top: int) -> None:
    """A theme's label, key phrases, timeline, most representative claims with sources, lineage (who said it
    first, who echoed it) and the closest other themes."""
    from flows.tables import print_table
    from store.research import theme_dossier

    with reading(_db(db)) as con:
        d = theme_dossier(con, theme_id, top=top)
    click.echo(f"Theme {d.theme_id}: {d.label}")
    if d.merged_into is not None:
        click.echo(f"(merged into theme {d.merged_into})")
    click.echo(f"Key phrases: {', '.join(d.keywords) or '-'}")
    click.echo(
        f"{d.claims} claims in {d.documents} documents from {d.sources} sources; first seen "
        f"{str(d.first_seen or '-')[:10]}, last seen {str(d.last_seen or '-')[:10]}"
    )
    click.echo("\nTimeline (publication day)")
    print_table(["day", "claims", "documents", "sources"], [row[:4] for row in d.timeline])
    click.echo("Most representative claims")
    print_table(
        ["similarity", "claim", "source"],
        [
            (f"{sim:.3f}", text, f"{outlet} ({country or '?'}), {str(when or '')[:10]}\n{url or ''}")
            for text, sim, outlet, country, when, url in d.top_claims
        ],
    )
    click.echo("Lineage")
    print_table(
        ["#", "source", "country", "first said", "days after first", "role"],
        [(n, outlet, country or "?", str(when)[:16], days, role) for n, outlet, country, when, days, role in d.lineage],
    )
    click.echo("Related themes")
    print_table(["id", "label", "similarity"], [(i, label, f"{sim:.3f}") for i, label, sim in d.related])


@click.group()
def plot() -> None:
    """Charts as image files (`plot theme-timeline ID --out FILE.png`)."""


@plot.command("theme-timeline")
@db_option
@click.argument("theme_id", type=int)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Image file (.png, .svg or .pdf; default theme-ID-timeline.png).",
)
def plot_theme_timeline(db: str | None, theme_id: int, out: Path | None) -> None:
    """A theme's claims per publication day (bars) and the sources it has reached so far (line)."""
    from flows.plots import theme_timeline_figure
    from store.research import theme_dossier

    out = out or Path(f"theme-{theme_id}-timeline.png")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UserError(f"--out must end in .png, .svg or .pdf, not {out.name!r}")
    with reading(_db(db)) as con:
        dossier = theme_dossier(con, theme_id, top=1, related=0)
    if not dossier.timeline:
        raise UserError(f"theme {theme_id} has no claims to plot")
    figure = theme_timeline_figure(dossier.theme_id, dossier.label, dossier.timeline)
    try:
        figure.savefig(out, dpi=150)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"wrote {out}")


COMMANDS = (sql, search, export, snapshot, theme, plot)
