"""Reading the database for researchers: a theme's dossier, complete exports and consistent snapshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from core.errors import UserError
from store.search import sql_string

EXPORT_FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class ThemeDossier:
    theme_id: int
    label: str
    keywords: list[str]
    first_seen: date | None
    last_seen: date | None
    merged_into: int | None
    claims: int
    documents: int
    sources: int
    timeline: list[tuple[date, int, int, int, int]]  # day, claims, documents, sources, sources so far
    top_claims: list[tuple[str, float, str, str | None, datetime | None, str | None]]  # text, sim, outlet, ...
    lineage: list[tuple[int, str, str | None, datetime | None, int, str]]  # rank, outlet, country, first, days, role
    related: list[tuple[int, str, float]]  # theme id, label, cosine between centroids


def theme_dossier(con: duckdb.DuckDBPyConnection, theme_id: int, top: int = 8, related: int = 5) -> ThemeDossier:
    row = con.execute(
        "SELECT theme_id, label, keywords, first_seen, last_seen, merged_into, centroid, space FROM themes "
        "WHERE theme_id = ?",
        [theme_id],
    ).fetchone()
    if row is None:
        raise UserError(f"no theme {theme_id}; 'undercurrent themes' lists them")
    totals = con.execute(
        "SELECT count(*), count(DISTINCT document_id), count(DISTINCT source_id) FROM claim_provenance "
        "WHERE theme_id = ?",
        [theme_id],
    ).fetchone()
    timeline = con.execute(
        "SELECT day, claims, documents, sources, sources_to_date FROM theme_timeline WHERE theme_id = ? ORDER BY day",
        [theme_id],
    ).fetchall()
    top_claims = con.execute(
        "SELECT p.text, ct.similarity, coalesce(p.source_name, p.source_id), p.source_country, p.published_at, "
        "p.document_url FROM claim_provenance p JOIN claim_themes ct USING (claim_id) "
        "WHERE p.theme_id = ? AND p.original_claim_id = p.claim_id "
        "ORDER BY ct.similarity DESC, p.claim_id LIMIT ?",
        [theme_id, top],
    ).fetchall()
    lineage = con.execute(
        "SELECT rank, coalesce(source_name, source_id), source_country, first_said, days_after_first, role "
        "FROM theme_lineage WHERE theme_id = ? ORDER BY rank",
        [theme_id],
    ).fetchall()
    return ThemeDossier(
        theme_id=row[0],
        label=row[1],
        keywords=list(row[2] or []),
        first_seen=row[3],
        last_seen=row[4],
        merged_into=row[5],
        claims=totals[0],
        documents=totals[1],
        sources=totals[2],
        timeline=timeline,
        top_claims=top_claims,
        lineage=lineage,
        related=_related(con, theme_id, row[6], row[7], related),
    )


def _related(
    con: duckdb.DuckDBPyConnection, theme_id: int, centroid: Any, space: str | None, limit: int
) -> list[tuple[int, str, float]]:
    """The live themes whose centroids lie closest to this one's (in the same theme space)."""
    if centroid is None:
        return []
    others = con.execute(
        "SELECT theme_id, label, centroid FROM themes WHERE theme_id <> ? AND merged_into IS NULL "
        "AND centroid IS NOT NULL AND space IS NOT DISTINCT FROM ?",
        [theme_id, space],
    ).fetchall()
    if not others:
        return []
    this = np.asarray(centroid, dtype=np.float32)
    matrix = np.asarray([o[2] for o in others], dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(this) or 1.0)
    similarity = matrix @ this / np.where(norms > 0, norms, 1.0)
    order = sorted(range(len(others)), key=lambda i: (-similarity[i], others[i][0]))[:limit]
    return [(others[i][0], others[i][1], round(float(similarity[i]), 3)) for i in order]


def exportable(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """(tables, views) of the database's own schema."""
    rows = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database() ORDER BY table_name"
    ).fetchall()
    return [t for t, kind in rows if kind == "BASE TABLE"], [t for t, kind in rows if kind == "VIEW"]


def export(con: duckdb.DuckDBPyConnection, names: list[str], out: Path, fmt: str) -> list[tuple[str, int, Path]]:
    """Write each table or view whole (no row cap) to ``out/<name>.<fmt>``; returns (name, rows, file)."""
    if fmt not in EXPORT_FORMATS:
        raise UserError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    tables, views = exportable(con)
    unknown = sorted(set(names) - set(tables) - set(views))
    if unknown:
        raise UserError(f"no table or view {', '.join(unknown)}; there are: {', '.join(tables + views)}")
    out.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    written = []
    for name in names:
        target = out / f"{name}.{fmt}"
        partial = target.with_name(target.name + ".partial")
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            copied = con.execute(f"COPY (SELECT * FROM {quoted}) TO {sql_string(partial)} ({options})").fetchone()
            os.replace(partial, target)
        except duckdb.Error as exc:
            raise UserError(f"cannot export {name} to {target}: {str(exc).splitlines()[0]}") from None
        finally:
            partial.unlink(missing_ok=True)
        written.append((name, int(copied[0]) if copied else 0, target))
    return written


def snapshot(db: Path, target: Path, busy_wait: float, run_started: Callable[[], bool]) -> bool:
    """Copy the database to ``target``, consistently; False (nothing written) when a run turned out to be under way.

    A read-only connection holds the database while the file (and its write-ahead log, if any) is copied, so no
    process writes it meanwhile (a run starting then waits, up to its own busy wait). ``run_started`` is asked
    once the connection is held: a run that began just before it may be between two stages, and a copy then
    would hold half of it. The copy's log is folded into it before it takes the target's name, so the target is
    one complete database file, readable by any DuckDB of this version.
    """
    from store.db import connect

    partial = target.with_name(target.name + ".partial")
    partial_wal = partial.with_name(partial.name + ".wal")
    wal = db.with_name(db.name + ".wal")
    try:
        partial_wal.unlink(missing_ok=True)  # one left by a killed snapshot must not be replayed into this copy
        with connect(db, read_only=True, busy_wait=busy_wait):
            if run_started():
                return False
            shutil.copyfile(db, partial)
            if wal.exists():
                shutil.copyfile(wal, partial_wal)
        if partial_wal.exists():
            try:
                with duckdb.connect(str(partial)) as copy:
                    copy.execute("CHECKPOINT")
            except duckdb.Error as exc:
                raise UserError(f"the copy of {db} could not be completed: {str(exc).splitlines()[0]}") from None
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        os.replace(partial, target)
        return True
    finally:
        partial.unlink(missing_ok=True)
        partial_wal.unlink(missing_ok=True)
