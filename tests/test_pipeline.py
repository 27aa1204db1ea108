"""End to end: the Prefect flow `daily` on the bundled sample, real DuckDB file, real model."""

from __future__ import annotations

import email
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow


def _con(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def test_first_run_stores_every_stage(sample_run: dict) -> None:
    counts = sample_run["counts_first"]
    assert counts["sources"] == 6
    assert counts["documents"] == 20  # 17 articles (one a syndicated copy) + 3 episodes
    assert counts["segments"] > 150
    assert counts["claims"] >= 120
    assert counts["embeddings"] >= counts["claims"] * 0.9  # identical texts share one vector
    assert counts["themes"] >= 5
    assert counts["digests"] == 1 and counts["digest_items"] == 5
    assert counts["deliveries"] == 1 and counts["runs"] == 1
    assert sample_run["first"].errors == []


def test_second_run_for_the_same_date_adds_nothing(sample_run: dict) -> None:
    first, second = dict(sample_run["counts_first"]), dict(sample_run["counts_second"])
    assert second.pop("runs") == first.pop("runs") + 1
    assert second == first
    before, after = dict(sample_run["contents_first"]), dict(sample_run["contents_second"])
    for log_table in ("runs", "feed_state"):  # they record when runs happened and feeds were checked
        before.pop(log_table), after.pop(log_table)
    changed = [table for table in before if before[table] != after[table]]
    assert changed == []  # not one row added, removed or changed
    assert sample_run["second"].counts["documents_new"] == 0
    assert sample_run["second"].counts.get("deliveries_sent", 0) == 0


def test_digest_has_five_attributed_items_from_five_themes(sample_db: Path) -> None:
    with _con(sample_db) as con:
        items = con.execute(
            "SELECT i.rank, i.theme_id, i.claim_id, c.document_id, d.source_id, i.source_count "
            "FROM digest_items i JOIN claims c USING (claim_id) JOIN documents d USING (document_id) "
            "ORDER BY rank"
        ).fetchall()
        assert [r[0] for r in items] == [1, 2, 3, 4, 5]
        assert len({r[1] for r in items}) == 5
        assert all(r[4] is not None for r in items)
        assert sum(r[5] >= 2 for r in items) >= 3  # most items are echoed by several sources
        themed = con.execute(
            "SELECT count(*) FROM digest_items i JOIN claim_themes t USING (claim_id) WHERE i.theme_id = t.theme_id"
        ).fetchone()[0]
        assert themed == 5


def test_documents_claims_and_quotes_are_consistent(sample_db: Path) -> None:
    with _con(sample_db) as con:
        bad_quotes = con.execute(
            "SELECT count(*) FROM claims c JOIN documents d USING (document_id) "
            "WHERE substring(d.text, c.start_char + 1, c.end_char - c.start_char) <> c.quote"
        ).fetchone()[0]
        assert bad_quotes == 0
        kinds = dict(con.execute("SELECT kind, count(*) FROM documents GROUP BY kind").fetchall())
        assert kinds == {"article": 17, "transcript": 3}
        timed = con.execute(
            "SELECT count(*), count(start_seconds), count(speaker) FROM claims JOIN documents d USING (document_id) "
            "WHERE d.kind = 'transcript'"
        ).fetchone()
        assert timed[0] > 10 and timed[0] == timed[1] == timed[2]
        furniture = con.execute(
            "SELECT count(*) FROM claims WHERE text ILIKE '%sign in%' OR text ILIKE '%newsletter%' "
            "OR text ILIKE '%brought to you by%' OR text ILIKE '%AI-generated%'"
        ).fetchone()[0]
        assert furniture == 0


def test_syndicated_copy_points_to_its_original_and_adds_no_claims(sample_db: Path) -> None:
    with _con(sample_db) as con:
        copies = con.execute(
            "SELECT d.document_id, d.source_id, o.source_id FROM documents d JOIN documents o "
            "ON d.canonical_id = o.document_id"
        ).fetchall()
        assert len(copies) == 1
        assert copies[0][1] != copies[0][2]
        outlets = con.execute("SELECT outlets FROM syndication WHERE copies = 2").fetchone()[0]
        assert outlets == ["Harbourline Tech", "Pacific Ledger"]
        assert con.execute("SELECT count(*) FROM claims WHERE document_id = ?", [copies[0][0]]).fetchone()[0] == 0


def test_off_topic_story_yields_no_claims(sample_db: Path) -> None:
    with _con(sample_db) as con:
        per_doc = con.execute(
            "SELECT d.kind, count(c.claim_id) FROM documents d LEFT JOIN claims c USING (document_id) "
            "WHERE d.canonical_id IS NULL GROUP BY d.document_id, d.kind"
        ).fetchall()
    empty = [r for r in per_doc if r[1] == 0]
    assert len(empty) == 1  # the off-topic China story, and nothing else


def test_delivery_written_to_outbox_once(sample_run: dict) -> None:
    outbox = sample_run["settings"].outbox
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes())
    assert message["To"] == "reader@example.com"
    assert message.is_multipart()
    with _con(sample_run["settings"].db) as con:
        status = con.execute("SELECT status, message_id FROM deliveries").fetchall()
    assert status == [("written", message["Message-ID"])]


def test_material_processed_after_a_brief_reaches_the_next_one(sample_db: Path, shared: Path) -> None:
    """A same-date rerun that brings new documents reuses its brief; the next date's brief carries them."""
    from datetime import timedelta

    from cluster.embed import theme_embedder
    from extract.fetch import MirrorFetcher
    from flows.demo import SAMPLE_DATE
    from flows.ingestion import ingest_paths
    from flows.stages import claims_stage, digest_stage, themes_stage
    from store.db import connect

    embedder = theme_embedder()
    with connect(sample_db) as con:
        before = con.execute("SELECT html FROM digests").fetchall()
        report = ingest_paths(con, [str(shared / "seeds")], MirrorFetcher("https://none.invalid/", shared))
        assert report.new_documents == 4
        pending = con.execute("SELECT document_id FROM documents WHERE processed_for IS NULL").fetchall()
        new_docs = {r[0] for r in pending}
        claims_stage(con, SAMPLE_DATE)
        themes_stage(con, embedder, SAMPLE_DATE)
        rerun = digest_stage(con, SAMPLE_DATE, None)
        assert rerun is not None and rerun.reused
        assert con.execute("SELECT html FROM digests").fetchall() == before
        next_day = digest_stage(con, SAMPLE_DATE + timedelta(days=1), None)
        assert next_day is not None and next_day.items >= 1
        sources = con.execute(
            "SELECT c.document_id FROM digest_items i JOIN claims c USING (claim_id) WHERE i.digest_date = ?",
            [SAMPLE_DATE + timedelta(days=1)],
        ).fetchall()
    assert {r[0] for r in sources} <= new_docs  # only what is new since the previous brief


def test_each_run_attaches_the_brief_as_a_markdown_artifact(sample_run: dict) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.demo import SAMPLE_DATE

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"digest-{SAMPLE_DATE.isoformat()}"]))
        )
    stored = (
        _con(sample_run["settings"].db)
        .execute("SELECT markdown FROM digests WHERE digest_date = ?", [SAMPLE_DATE])
        .fetchone()[0]
    )
    # the sample's two runs each attached its brief (other tests run the flow for this date too, on copies of
    # the sample or on other data)
    ours = [a for a in artifacts if a.data == stored]
    assert len(ours) >= 2 and len({a.flow_run_id for a in ours}) == len(ours)
    assert all(a.type == "markdown" and a.flow_run_id is not None for a in artifacts)
