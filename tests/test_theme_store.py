"""Themes in the database after real runs on the sample: incremental labels, representatives, space changes,
re-clustering on a schedule, operator labels through re-clustering."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from cluster.embed import theme_embedder
from flows.demo import SAMPLE_DATE
from flows.stages import recluster_due, recluster_stage, relabel, themes_stage
from store import themes as themestore

pytestmark = pytest.mark.slow


def _keywords(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, list[str]]]:
    rows = con.execute("SELECT theme_id, label, keywords FROM themes WHERE merged_into IS NULL").fetchall()
    return {theme_id: (label, keywords) for theme_id, label, keywords in rows}


def test_labels_kept_up_day_by_day_equal_labels_rebuilt_from_every_claim(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db))
    incremental = _keywords(con)
    terms_before = con.execute("SELECT * FROM theme_terms ORDER BY ALL").fetchall()
    relabel(con)  # rebuilds every theme's term counts from its claims
    assert con.execute("SELECT * FROM theme_terms ORDER BY ALL").fetchall() == terms_before
    assert _keywords(con) == incremental
    assert all(len(keywords) >= 2 for _, keywords in incremental.values())
    con.close()


def test_each_theme_names_its_most_central_claim(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db))
    rows = con.execute(
        "SELECT th.theme_id, th.representative_claim_id, max(t.similarity), "
        "  max(t.similarity) FILTER (WHERE t.claim_id = th.representative_claim_id) "
        "FROM themes th JOIN claim_themes t USING (theme_id) GROUP BY ALL"
    ).fetchall()
    con.close()
    assert rows
    for theme_id, representative, best, its_own in rows:
        assert representative is not None, theme_id
        assert its_own == pytest.approx(best)  # a member, and none is closer to the centroid


def test_centroids_from_another_theme_space_are_recomputed_once(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db))
    live = con.execute("SELECT count(*) FROM themes WHERE merged_into IS NULL").fetchone()[0]
    con.execute("UPDATE themes SET space = 'an-older-space'")
    counts = themes_stage(con, theme_embedder(), SAMPLE_DATE + timedelta(days=1))
    assert counts["theme_centroids_refreshed"] == live
    spaces = con.execute("SELECT DISTINCT space FROM themes WHERE merged_into IS NULL").fetchall()
    assert len(spaces) == 1 and spaces[0][0].startswith("wccn-")
    norms = [
        np.linalg.norm(c) for (c,) in con.execute("SELECT centroid FROM themes WHERE centroid IS NOT NULL").fetchall()
    ]
    assert np.allclose(norms, 1.0, atol=1e-4)
    again = themes_stage(con, theme_embedder(), SAMPLE_DATE + timedelta(days=2))
    assert "theme_centroids_refreshed" not in again
    con.close()


def test_reclustering_falls_due_every_few_days_and_keeps_operator_labels(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db))
    first_theme = con.execute("SELECT min(created_on) FROM themes").fetchone()[0]
    assert not recluster_due(con, first_theme + timedelta(days=6), 7)
    assert recluster_due(con, first_theme + timedelta(days=7), 7)
    assert not recluster_due(con, first_theme + timedelta(days=70), 0)  # 0: only on demand
    theme_id = con.execute(
        "SELECT theme_id FROM claim_themes GROUP BY theme_id ORDER BY count(*) DESC, theme_id LIMIT 1"
    ).fetchone()[0]
    assert themestore.rename_theme(con, theme_id, "Open weights as a loss leader")
    day = first_theme + timedelta(days=7)
    recluster_stage(con, theme_embedder(), day)
    assert con.execute("SELECT run_date FROM theme_reclusters").fetchall() == [(day,)]
    assert not recluster_due(con, day + timedelta(days=6), 7)
    assert recluster_due(con, day + timedelta(days=7), 7)
    assert con.execute("SELECT label, merged_into FROM themes WHERE theme_id = ?", [theme_id]).fetchone() == (
        "Open weights as a loss leader",
        None,
    )
    con.close()


def test_a_database_from_before_term_counts_gets_them_once(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db))
    con.execute("DELETE FROM theme_terms")  # as a database upgraded from before they were kept
    # two claims of each of the two largest themes arrive again as new claims, so that the day touches themes
    returning = [
        claim_id
        for (claim_id,) in con.execute(
            "SELECT t.claim_id FROM claim_themes t JOIN claims c USING (claim_id) JOIN themes th USING (theme_id) "
            "WHERE c.same_as IS NULL AND t.claim_id <> th.representative_claim_id AND t.theme_id IN "
            "  (SELECT theme_id FROM claim_themes GROUP BY theme_id ORDER BY count(*) DESC, theme_id LIMIT 2) "
            "QUALIFY row_number() OVER (PARTITION BY t.theme_id ORDER BY t.similarity DESC, t.claim_id) <= 2"
        ).fetchall()
    ]
    assert len(returning) == 4
    con.execute("DELETE FROM claim_themes WHERE claim_id IN (SELECT unnest(?))", [returning])
    con.execute("UPDATE claims SET themed_on = NULL WHERE claim_id IN (SELECT unnest(?))", [returning])
    day = SAMPLE_DATE + timedelta(days=1)
    themes_stage(con, theme_embedder(), day)
    after_stage = con.execute("SELECT * FROM theme_terms ORDER BY ALL").fetchall()
    labels = _keywords(con)
    relabel(con)  # counting every claim from scratch gives the same: the stage counted all, not one day's
    assert con.execute("SELECT * FROM theme_terms ORDER BY ALL").fetchall() == after_stage
    # the themes the day touched carry the labels a full count gives; the others keep the phrases weighed at
    # their last update (relabelling every theme each day would cost the whole history)
    touched = {r[0] for r in con.execute("SELECT theme_id FROM claim_themes WHERE assigned_on = ?", [day]).fetchall()}
    assert touched and len(after_stage) > 1000
    full = _keywords(con)
    assert {t: labels[t] for t in touched} == {t: full[t] for t in touched}
    con.close()
