"""Themes, claim-to-theme assignments and the claim data clustering needs."""

from __future__ import annotations

from collections import Counter
from datetime import date

import duckdb
import numpy as np

from cluster.metrics import DayCounts, DayMetrics
from store.db import utc_now


def unthemed_claims(con: duckdb.DuckDBPyConnection, run_date: date, retry_days: int) -> list[tuple[str, str]]:
    """(claim_id, text) of claims the themes stage should consider on run_date, in claim_id order.

    New claims, plus unthemed ones last considered on an earlier date within ``retry_days`` (they may cohere
    with today's). A rerun for the same date considers nothing twice.
    """
    return con.execute(
        "SELECT c.claim_id, c.text FROM claims c LEFT JOIN claim_themes t USING (claim_id) "
        "WHERE t.claim_id IS NULL AND c.same_as IS NULL "
        "AND (c.themed_on IS NULL OR (c.themed_on < $day AND c.themed_on >= $day - $days)) "
        "ORDER BY c.claim_id",
        {"day": run_date, "days": retry_days},
    ).fetchall()


def adopt_linked(con: duckdb.DuckDBPyConnection, run_date: date) -> list[str]:
    """Claims that repeat an earlier claim word for word join its theme; returns those that joined."""
    rows = con.execute(
        "INSERT INTO claim_themes (claim_id, theme_id, similarity, assigned_on) "
        "SELECT c.claim_id, t.theme_id, t.similarity, $day FROM claims c JOIN claim_themes t ON t.claim_id = c.same_as "
        "WHERE c.same_as IS NOT NULL AND c.claim_id NOT IN (SELECT claim_id FROM claim_themes) "
        "ON CONFLICT DO NOTHING RETURNING claim_id",
        {"day": run_date},
    ).fetchall()
    con.execute("UPDATE claims SET themed_on = $day WHERE same_as IS NOT NULL AND themed_on IS NULL", {"day": run_date})
    return [row[0] for row in rows]


def mark_considered(con: duckdb.DuckDBPyConnection, claim_ids: list[str], run_date: date) -> None:
    if claim_ids:
        con.execute("UPDATE claims SET themed_on = ? WHERE claim_id IN (SELECT unnest(?))", [run_date, claim_ids])


def theme_centroids(con: duckdb.DuckDBPyConnection, space: str) -> tuple[list[int], np.ndarray]:
    """Ids and centroids of the live themes whose centroid lives in ``space``."""
    rows = con.execute(
        "SELECT theme_id, centroid FROM themes WHERE centroid IS NOT NULL AND merged_into IS NULL AND space = ? "
        "ORDER BY theme_id",
        [space],
    ).fetchall()
    ids = [r[0] for r in rows]
    matrix = np.asarray([r[1] for r in rows], dtype=np.float32) if rows else np.zeros((0, 384), dtype=np.float32)
    return ids, matrix


def stale_members(con: duckdb.DuckDBPyConnection, space: str) -> dict[int, list[str]]:
    """Texts of the claims of live themes whose centroid is not in ``space`` (the theme space changed)."""
    stale = con.execute(
        "SELECT count(*) FROM themes WHERE merged_into IS NULL AND space IS DISTINCT FROM ?", [space]
    ).fetchone()
    if not stale or not stale[0]:  # the daily case: nothing to read, no scan of the claims
        return {}
    rows = con.execute(
        "SELECT th.theme_id, c.text FROM themes th JOIN claim_themes t USING (theme_id) JOIN claims c USING (claim_id) "
        "WHERE th.merged_into IS NULL AND th.space IS DISTINCT FROM ? AND c.same_as IS NULL "
        "ORDER BY th.theme_id, c.claim_id",
        [space],
    ).fetchall()
    members: dict[int, list[str]] = {}
    for theme_id, text in rows:
        members.setdefault(theme_id, []).append(text)
    return members


def next_theme_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT coalesce(max(theme_id), 0) + 1 FROM themes").fetchone()[0])  # type: ignore[index]


def create_theme(
    con: duckdb.DuckDBPyConnection, theme_id: int, centroid: np.ndarray, created_on: date, space: str
) -> None:
    con.execute(
        "INSERT INTO themes (theme_id, label, keywords, created_on, centroid, space) VALUES (?, '', [], ?, ?, ?)",
        [theme_id, created_on, centroid.tolist(), space],
    )


def assign_claims(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, int, float]], assigned_on: date) -> None:
    if pairs:
        con.execute(
            "INSERT INTO claim_themes (claim_id, theme_id, similarity, assigned_on) "
            "SELECT unnest($claims), unnest($themes), unnest($sims), $day ON CONFLICT DO NOTHING",
            {
                "claims": [claim_id for claim_id, _, _ in pairs],
                "themes": [theme_id for _, theme_id, _ in pairs],
                "sims": [float(sim) for _, _, sim in pairs],
                "day": assigned_on,
            },
        )


def theme_members(
    con: duckdb.DuckDBPyConnection, theme_ids: list[int] | None = None
) -> dict[int, list[tuple[str, str]]]:
    """theme_id -> [(claim_id, text)] for every theme (or those given), claims in claim_id order."""
    rows = con.execute(
        "SELECT t.theme_id, c.claim_id, c.text FROM claim_themes t JOIN claims c USING (claim_id) "
        "WHERE c.same_as IS NULL AND ($ids IS NULL OR list_contains($ids, t.theme_id)) "
        "ORDER BY t.theme_id, c.claim_id",
        {"ids": theme_ids},
    ).fetchall()
    members: dict[int, list[tuple[str, str]]] = {}
    for theme_id, claim_id, text in rows:
        members.setdefault(theme_id, []).append((claim_id, text))
    return members


def set_labels(con: duckdb.DuckDBPyConnection, labels: dict[int, tuple[str, list[str]]]) -> None:
    """Set computed labels and key phrases (theme_id -> (label, keywords)); an operator's label stays the label."""
    if not labels:
        return
    ids = sorted(labels)
    con.execute(
        "UPDATE themes SET label_auto = n.label, label = coalesce(label_override, n.label), keywords = n.keywords "
        "FROM (SELECT unnest($ids) AS theme_id, unnest($labels) AS label, unnest($keywords) AS keywords) n "
        "WHERE themes.theme_id = n.theme_id",
        {"ids": ids, "labels": [labels[t][0] for t in ids], "keywords": [labels[t][1] for t in ids]},
    )


def refresh_seen(con: duckdb.DuckDBPyConnection, claim_ids: list[str] | None = None) -> None:
    """first_seen / last_seen from the publication dates of themes' claims: of every claim (``claim_ids`` None,
    after claims moved), or widened by the given newly themed claims (a day's run: no full scan of history)."""
    if claim_ids is None:
        con.execute(
            "UPDATE themes SET first_seen = s.first_seen, last_seen = s.last_seen FROM ("
            "  SELECT t.theme_id, min(CAST(d.published_at AS DATE)) AS first_seen,"
            "  max(CAST(d.published_at AS DATE)) AS last_seen"
            "  FROM claim_themes t JOIN claims c USING (claim_id) JOIN documents d USING (document_id)"
            "  GROUP BY t.theme_id) s WHERE themes.theme_id = s.theme_id"
        )
        return
    if not claim_ids:
        return
    con.execute(
        "UPDATE themes SET first_seen = CASE WHEN themes.first_seen IS NULL OR s.first_seen < themes.first_seen "
        "THEN s.first_seen ELSE themes.first_seen END, "
        "last_seen = CASE WHEN themes.last_seen IS NULL OR s.last_seen > themes.last_seen "
        "THEN s.last_seen ELSE themes.last_seen END FROM ("
        "  SELECT t.theme_id, min(CAST(d.published_at AS DATE)) AS first_seen,"
        "  max(CAST(d.published_at AS DATE)) AS last_seen"
        "  FROM (SELECT unnest($ids) AS claim_id) n JOIN claim_themes t USING (claim_id)"
        "  JOIN claims c USING (claim_id) JOIN documents d USING (document_id)"
        "  GROUP BY t.theme_id) s WHERE themes.theme_id = s.theme_id",
        {"ids": claim_ids},
    )


def theme_counts(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """theme_id, label, claims, documents, sources, first_seen, last_seen, and from the theme's latest day in
    theme_daily: that day, its claims, momentum and CN/US claims; for every theme, largest first."""
    return con.execute(
        "WITH totals AS ("
        "  SELECT th.theme_id, th.label, count(t.claim_id) AS claims, count(DISTINCT c.document_id) AS documents,"
        "  count(DISTINCT d.source_id) AS sources, th.first_seen, th.last_seen"
        "  FROM themes th LEFT JOIN claim_themes t USING (theme_id) LEFT JOIN claims c USING (claim_id)"
        "  LEFT JOIN documents d USING (document_id) GROUP BY ALL),"
        " latest AS (SELECT * FROM theme_daily QUALIFY row_number() OVER (PARTITION BY theme_id ORDER BY day DESC) = 1)"
        " SELECT totals.*, latest.day, latest.claims, latest.momentum, latest.cn_claims, latest.us_claims"
        " FROM totals LEFT JOIN latest USING (theme_id)"
        " WHERE totals.theme_id NOT IN (SELECT theme_id FROM themes WHERE merged_into IS NOT NULL)"
        " ORDER BY totals.claims DESC, totals.theme_id"
    ).fetchall()


def rename_theme(con: duckdb.DuckDBPyConnection, theme_id: int, label: str | None) -> bool:
    """Set (or with None clear) the operator's label; False when there is no such theme."""
    found = con.execute("SELECT count(*) FROM themes WHERE theme_id = ?", [theme_id]).fetchone()
    if not found or not found[0]:
        return False
    con.execute(
        "UPDATE themes SET label_override = $label, label = coalesce($label, label_auto, label) WHERE theme_id = $id",
        {"label": label, "id": theme_id},
    )
    return True


def merge_themes(con: duckdb.DuckDBPyConnection, old: int, new: int, day: date, reason: str = "operator") -> int:
    """Move every claim of theme ``old`` into ``new``, retire ``old`` (its id is never reused) and record the
    change; returns how many claims moved. The caller relabels."""
    live = dict(
        con.execute("SELECT theme_id, merged_into IS NULL FROM themes WHERE theme_id IN (?, ?)", [old, new]).fetchall()
    )
    for theme_id in (old, new):
        if theme_id not in live:
            raise ValueError(f"no theme {theme_id}")
        if not live[theme_id]:
            raise ValueError(f"theme {theme_id} was merged into another already")
    if old == new:
        raise ValueError("a theme cannot be merged into itself")
    sizes = dict(
        con.execute(
            "SELECT theme_id, count(*) FROM claim_themes WHERE theme_id IN (?, ?) GROUP BY theme_id", [old, new]
        ).fetchall()
    )
    moved = int(sizes.get(old, 0))
    rows = con.execute("SELECT theme_id, centroid FROM themes WHERE theme_id IN (?, ?)", [old, new]).fetchall()
    vectors = {t: np.asarray(c, dtype=np.float64) for t, c in rows if c is not None}
    merged = None
    if old in vectors and new in vectors:  # the claims' mean direction, weighted by how many each theme holds
        mean = vectors[old] * max(moved, 1) + vectors[new] * max(int(sizes.get(new, 0)), 1)
        merged = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32).tolist()
    con.execute("UPDATE claim_themes SET theme_id = ? WHERE theme_id = ?", [new, old])
    con.execute(
        "INSERT INTO theme_daily SELECT ?, day, claims, documents, sources, cn_claims, us_claims, share, baseline, "
        "momentum FROM theme_daily WHERE theme_id = ? ON CONFLICT (theme_id, day) DO UPDATE SET "
        "claims = theme_daily.claims + excluded.claims, documents = theme_daily.documents + excluded.documents, "
        "sources = theme_daily.sources + excluded.sources, cn_claims = theme_daily.cn_claims + excluded.cn_claims, "
        "us_claims = theme_daily.us_claims + excluded.us_claims, share = theme_daily.share + excluded.share, "
        "baseline = theme_daily.baseline + excluded.baseline, momentum = NULL",
        [new, old],
    )
    con.execute("DELETE FROM theme_daily WHERE theme_id = ?", [old])
    con.execute("UPDATE themes SET merged_into = ?, centroid = NULL WHERE theme_id = ?", [new, old])
    if merged is not None:
        con.execute("UPDATE themes SET centroid = ? WHERE theme_id = ?", [merged, new])
    record_change(con, day, "merge", old, new, moved, reason)
    return moved


def live_claims(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int | None]]:
    """(claim_id, text, theme_id or None) of every claim that is not a repeat, in claim_id order."""
    return con.execute(
        "SELECT c.claim_id, c.text, t.theme_id FROM claims c LEFT JOIN claim_themes t USING (claim_id) "
        "WHERE c.same_as IS NULL ORDER BY c.claim_id"
    ).fetchall()


def move_claims(con: duckdb.DuckDBPyConnection, moves: list[tuple[str, int, float]], day: date) -> None:
    """Put each claim in the given theme (themed or not before); its word-for-word repeats follow it."""
    if not moves:
        return
    con.executemany(
        "INSERT INTO claim_themes (claim_id, theme_id, similarity, assigned_on) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (claim_id) DO UPDATE SET theme_id = excluded.theme_id, similarity = excluded.similarity, "
        "assigned_on = excluded.assigned_on",
        [[claim_id, theme_id, float(sim), day] for claim_id, theme_id, sim in moves],
    )
    con.execute(
        "UPDATE claim_themes SET theme_id = o.theme_id FROM claims c JOIN claim_themes o ON o.claim_id = c.same_as "
        "WHERE claim_themes.claim_id = c.claim_id AND claim_themes.theme_id <> o.theme_id"
    )


def record_change(
    con: duckdb.DuckDBPyConnection, day: date, kind: str, old: int, new: int, claims: int, reason: str
) -> None:
    con.execute(
        "INSERT INTO theme_changes (changed_on, changed_at, kind, old_theme_id, new_theme_id, claims, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [day, utc_now(), kind, old, new, claims, reason],
    )


def set_centroid(con: duckdb.DuckDBPyConnection, theme_id: int, middle: np.ndarray, space: str) -> None:
    con.execute("UPDATE themes SET centroid = ?, space = ? WHERE theme_id = ?", [middle.tolist(), space, theme_id])


def terms_missing(con: duckdb.DuckDBPyConnection) -> bool:
    """Themed claims but no term counts: a database from before they were kept (or emptied by hand)."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM theme_terms) = 0 AND (SELECT count(*) FROM claim_themes) > 0"
    ).fetchone()
    return bool(row and row[0])


def add_terms(con: duckdb.DuckDBPyConnection, counts: dict[int, Counter[str]]) -> None:
    """Add key-phrase candidate counts to themes (claims joined them)."""
    rows = [(theme_id, term, n) for theme_id, c in sorted(counts.items()) for term, n in sorted(c.items())]
    if rows:
        con.execute(
            "INSERT INTO theme_terms SELECT unnest($themes), unnest($terms), unnest($counts) "
            "ON CONFLICT (theme_id, term) DO UPDATE SET n = n + excluded.n",
            {"themes": [r[0] for r in rows], "terms": [r[1] for r in rows], "counts": [r[2] for r in rows]},
        )


def replace_terms(con: duckdb.DuckDBPyConnection, counts: dict[int, Counter[str]], every: bool) -> None:
    """Set the term counts of the given themes (of every theme when ``every``: a full rebuild)."""
    if every:
        con.execute("DELETE FROM theme_terms")
    else:
        con.execute("DELETE FROM theme_terms WHERE list_contains(?, theme_id)", [sorted(counts)])
    add_terms(con, counts)


def term_counts(con: duckdb.DuckDBPyConnection, theme_ids: list[int]) -> dict[int, Counter[str]]:
    rows = con.execute(
        "SELECT theme_id, term, n FROM theme_terms WHERE list_contains(?, theme_id)", [theme_ids]
    ).fetchall()
    counts: dict[int, Counter[str]] = {t: Counter() for t in theme_ids}
    for theme_id, term, n in rows:
        counts[theme_id][term] = n
    return counts


def term_frequency(con: duckdb.DuckDBPyConnection, terms: list[str]) -> tuple[dict[str, int], float]:
    """Each term's count over all live themes, and the mean number of terms per live theme."""
    live = "theme_id IN (SELECT theme_id FROM themes WHERE merged_into IS NULL)"
    rows = con.execute(
        f"SELECT term, sum(n) FROM theme_terms WHERE {live} AND list_contains(?, term) GROUP BY term", [terms]
    ).fetchall()
    average = con.execute(
        f"SELECT coalesce(sum(n) / greatest(count(DISTINCT theme_id), 1), 1) FROM theme_terms WHERE {live}"
    ).fetchone()
    return {term: int(n) for term, n in rows}, float(average[0]) if average else 1.0


def offer_representatives(con: duckdb.DuckDBPyConnection, offers: dict[int, tuple[float, str]]) -> None:
    """theme_id -> (similarity, claim_id): the claim becomes the theme's representative when it is closer to the
    centroid than the present one (ties: the smaller claim id)."""
    if not offers:
        return
    ids = sorted(offers)
    con.execute(
        "UPDATE themes SET representative_claim_id = o.claim_id, representative_similarity = o.sim "
        "FROM (SELECT unnest($ids) AS theme_id, unnest($claims) AS claim_id, unnest($sims) AS sim) o "
        "WHERE themes.theme_id = o.theme_id AND (representative_similarity IS NULL "
        "OR representative_similarity < o.sim "
        "OR (representative_similarity = o.sim AND representative_claim_id > o.claim_id))",
        {"ids": ids, "claims": [offers[t][1] for t in ids], "sims": [float(offers[t][0]) for t in ids]},
    )


def set_representative(con: duckdb.DuckDBPyConnection, theme_id: int, claim_id: str, similarity: float) -> None:
    con.execute(
        "UPDATE themes SET representative_claim_id = ?, representative_similarity = ? WHERE theme_id = ?",
        [claim_id, similarity, theme_id],
    )


def last_recluster(con: duckdb.DuckDBPyConnection) -> date | None:
    row = con.execute("SELECT max(run_date) FROM theme_reclusters").fetchone()
    return row[0] if row else None


def record_recluster(
    con: duckdb.DuckDBPyConnection, day: date, claims: int, moved: int, merged: int, created: int
) -> None:
    con.execute(
        "INSERT INTO theme_reclusters VALUES (?, ?, ?, ?, ?, ?)", [day, utc_now(), claims, moved, merged, created]
    )


def day_counts(con: duckdb.DuckDBPyConnection, day: date) -> dict[int, DayCounts]:
    """Per theme: the day's themed claims (documents processed for that run date) and what they span."""
    rows = con.execute(
        "SELECT t.theme_id, count(*), count(DISTINCT c.document_id),"
        " count(DISTINCT coalesce(d.source_id, d.document_id)),"
        " count(*) FILTER (WHERE list_contains(c.actors, 'CN')), count(*) FILTER (WHERE list_contains(c.actors, 'US'))"
        " FROM claim_themes t JOIN claims c USING (claim_id) JOIN documents d USING (document_id)"
        " WHERE d.processed_for = ? GROUP BY t.theme_id",
        [day],
    ).fetchall()
    return {r[0]: DayCounts(*r[1:]) for r in rows}


def window_counts(con: duckdb.DuckDBPyConnection, day: date, days: int) -> tuple[dict[int, int], int]:
    """Per theme claims over the ``days`` before ``day`` (from theme_daily), and all themed claims there."""
    rows = con.execute(
        "SELECT theme_id, sum(claims) FROM theme_daily WHERE day < $day AND day >= $day - $days::INTEGER "
        "GROUP BY theme_id",
        {"day": day, "days": days},
    ).fetchall()
    per_theme = {r[0]: int(r[1]) for r in rows}
    return per_theme, sum(per_theme.values())


def save_day_metrics(con: duckdb.DuckDBPyConnection, day: date, metrics: list[DayMetrics]) -> None:
    """Replace the day's rows (a rerun for the same date recomputes them)."""
    con.execute("DELETE FROM theme_daily WHERE day = ?", [day])
    if metrics:
        con.executemany(
            "INSERT INTO theme_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    m.theme_id,
                    day,
                    m.counts.claims,
                    m.counts.documents,
                    m.counts.sources,
                    m.counts.cn_claims,
                    m.counts.us_claims,
                    m.share,
                    m.baseline,
                    m.momentum,
                ]
                for m in metrics
            ],
        )
