"""Word-for-word repeats of a claim across documents are linked, join the original's theme, and count once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.models import Claim, SourceRef
from digest.select import Candidate, ThemeInfo, select_items
from store import claims as claimstore
from store import themes as themestore
from store.db import open_db

DAY = date(2026, 1, 5)


def _claim(claim_id: str, document_id: str, text: str) -> Claim:
    return Claim(claim_id, document_id, 0, text, text, 0, len(text), ("CN",), ("China",), "thesis", False, 0.9)


def _document(con, document_id: str) -> None:
    con.execute(
        "INSERT INTO documents (document_id, kind, title, text, content_hash, ingested_at) "
        "VALUES (?, 'article', 't', 'x', ?, now())",
        [document_id, document_id],
    )


def test_repeats_are_linked_to_the_first_copy_whatever_the_case_and_punctuation(tmp_path: Path) -> None:
    con = open_db(tmp_path / "db.duckdb")
    for doc in ("d1", "d2", "d3"):
        _document(con, doc)
    insight = "China is building the Android of AI, while the US builds its iPhone."
    claimstore.save_claims(con, "d1", [_claim("c1", "d1", insight)], DAY)
    claimstore.save_claims(
        con,
        "d2",
        [
            _claim("c2", "d2", "China is building the ANDROID of AI — while the US builds its iPhone!"),
            _claim("c3", "d2", "Washington should fund open models."),
        ],
        DAY,
    )
    claimstore.save_claims(con, "d3", [_claim("c4", "d3", insight), _claim("c5", "d3", insight)], DAY)
    links = dict(con.execute("SELECT claim_id, same_as FROM claims ORDER BY claim_id").fetchall())
    assert links == {"c1": None, "c2": "c1", "c3": None, "c4": "c1", "c5": "c1"}
    assert con.execute("SELECT count(DISTINCT text_key) FROM claims").fetchone()[0] == 2
    con.close()


def test_repeats_join_the_theme_of_their_original_and_are_not_clustered(tmp_path: Path) -> None:
    con = open_db(tmp_path / "db.duckdb")
    for doc in ("d1", "d2"):
        _document(con, doc)
    text = "DeepSeek open weights are a loss leader for Chinese cloud revenue."
    claimstore.save_claims(con, "d1", [_claim("c1", "d1", text)], DAY)
    claimstore.save_claims(con, "d2", [_claim("c2", "d2", text)], DAY)
    pending = themestore.unthemed_claims(con, DAY, retry_days=3)
    assert [claim_id for claim_id, _ in pending] == ["c1"]  # the repeat is not clustered again
    con.execute("INSERT INTO themes (theme_id, label, keywords, created_on) VALUES (1, 'open weights', [], ?)", [DAY])
    themestore.assign_claims(con, [("c1", 1, 0.9)], DAY)
    assert themestore.adopt_linked(con, DAY) == ["c2"]
    assert con.execute("SELECT theme_id FROM claim_themes WHERE claim_id = 'c2'").fetchone() == (1,)
    assert themestore.adopt_linked(con, DAY) == []  # idempotent
    assert themestore.theme_members(con) == {1: [("c1", text)]}  # labels see the idea once
    con.close()


def _candidate(claim_id: str, theme_id: int, source: str, idea: str = "") -> Candidate:
    ref = SourceRef(source, "title", f"https://{source}.example/{claim_id}", DAY, "article")
    return Candidate(claim_id, theme_id, f"text of {idea or claim_id}", 0.9, 0.8, True, source, DAY, ref, idea)


def test_a_repeated_insight_counts_once_in_the_brief() -> None:
    themes = {1: ThemeInfo(1, "copied insight"), 2: ThemeInfo(2, "two ideas")}
    # theme 1: one insight copied by three documents of one source; theme 2: two distinct ideas
    candidates = [
        _candidate("a1", 1, "s1"),
        _candidate("a2", 1, "s1", idea="a1"),
        _candidate("a3", 1, "s1", idea="a1"),
        _candidate("b1", 2, "s1"),
        _candidate("b2", 2, "s1"),
    ]
    items = select_items(candidates, themes)
    assert [item.theme_id for item in items] == [2, 1]
    copied = items[1]
    assert copied.why.startswith("1 new claim on this theme")
    # a repeat of a claim featured before is not news again
    assert select_items(candidates, themes, excluded_claims=frozenset({"a1"})) == select_items(
        [c for c in candidates if c.theme_id == 2], themes
    )


def test_insights_the_seed_newsletters_repeat_are_linked_across_documents(shared: Path, tmp_path: Path) -> None:
    from extract.fetch import MirrorFetcher
    from flows.ingestion import ingest_paths
    from flows.stages import claims_stage

    con = open_db(tmp_path / "db.duckdb")
    seeds = [shared / "seeds" / "001_95406d41cfc8ec42.txt", shared / "seeds" / "003_437c8fcb4adb72d1.txt"]
    ingest_paths(con, [str(p) for p in seeds], MirrorFetcher("https://none.invalid/", tmp_path))
    claims_stage(con, DAY)
    rows = con.execute(
        "SELECT c.text, o.text, c.document_id <> o.document_id FROM claims c JOIN claims o ON o.claim_id = c.same_as"
    ).fetchall()
    assert len(rows) >= 3  # the same insights, word for word, in two newsletters
    assert all(text == original and other_doc for text, original, other_doc in rows)
    # one idea, however many copies: distinct ideas are fewer than claims
    ideas, claims = con.execute("SELECT count(DISTINCT coalesce(same_as, claim_id)), count(*) FROM claims").fetchone()
    assert ideas == claims - len(rows)
    con.close()
