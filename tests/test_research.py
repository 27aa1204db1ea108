"""The researchers' surface on the sample database: views, search, export, snapshot, theme show and plot."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from flows.runlock import run_lock
from tests.conftest import table_contents

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _android_theme(db: Path) -> int:
    rows = _rows(
        db,
        "SELECT theme_id, count(*) FROM claim_themes JOIN claims USING (claim_id) "
        "WHERE text ILIKE '%android of ai%' GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )
    assert rows, "the sample should have an 'Android of AI' theme"
    return rows[0][0]


def test_claim_provenance_joins_every_claim_to_its_outlet(sample_db: Path) -> None:
    assert _rows(sample_db, "SELECT count(*) FROM claim_provenance") == _rows(sample_db, "SELECT count(*) FROM claims")
    meridian = _rows(
        sample_db,
        "SELECT DISTINCT source_country, source_state_affiliated FROM claim_provenance "
        "WHERE source_name = 'Meridian Daily'",
    )
    assert meridian == [("CN", True)]
    themed = _rows(sample_db, "SELECT count(*) FROM claim_provenance WHERE theme_id IS NOT NULL")
    assert themed == _rows(sample_db, "SELECT count(*) FROM claim_themes")
    repeats = _rows(sample_db, "SELECT count(*) FROM claim_provenance WHERE original_claim_id <> claim_id")
    assert repeats == _rows(sample_db, "SELECT count(*) FROM claims WHERE same_as IS NOT NULL")


def test_theme_timeline_and_actor_split_add_up(sample_db: Path) -> None:
    per_theme = dict(_rows(sample_db, "SELECT theme_id, count(*) FROM claim_themes GROUP BY 1"))
    timeline = dict(_rows(sample_db, "SELECT theme_id, sum(claims)::INTEGER FROM theme_timeline GROUP BY 1"))
    assert timeline == per_theme
    last = dict(_rows(sample_db, "SELECT theme_id, arg_max(claims_to_date, day) FROM theme_timeline GROUP BY 1"))
    assert last == per_theme
    cn = Counter()
    us = Counter()
    for theme_id, actors in _rows(sample_db, "SELECT theme_id, actors FROM claim_themes JOIN claims USING (claim_id)"):
        cn[theme_id] += "CN" in actors
        us[theme_id] += "US" in actors
    split = {t: (c, u) for t, c, u in _rows(sample_db, "SELECT theme_id, cn_claims, us_claims FROM theme_actors")}
    assert split == {t: (cn[t], us[t]) for t in per_theme}
    outlets = _rows(
        sample_db, "SELECT sum(from_cn_outlets + from_us_outlets + from_other_outlets) = sum(claims) FROM theme_actors"
    )
    assert outlets == [(True,)]


def test_lineage_names_who_said_it_first_and_who_echoed(sample_db: Path) -> None:
    theme = _android_theme(sample_db)
    lineage = _rows(
        sample_db,
        "SELECT rank, role, source_name, first_said, days_after_first FROM theme_lineage WHERE theme_id = ? "
        "ORDER BY rank",
        [theme],
    )
    assert len(lineage) >= 3
    ranks = [r[0] for r in lineage]
    assert ranks[0] == 1 and ranks == sorted(ranks) and len(set(ranks)) == len(ranks)  # no ties in the sample
    assert [r[1] for r in lineage] == ["first"] + ["echo"] * (len(lineage) - 1)
    firsts = [r[3] for r in lineage]
    assert firsts == sorted(firsts) and lineage[0][4] == 0
    earliest = _rows(
        sample_db,
        "SELECT source_name FROM claim_provenance WHERE theme_id = ? ORDER BY published_at, source_id LIMIT 1",
        [theme],
    )
    assert lineage[0][2] == earliest[0][0]


def test_search_finds_a_paraphrase_by_meaning_and_words_by_keyword(
    capsys: pytest.CaptureFixture[str], sample_db: Path
) -> None:
    query = "Beijing wants to be the open phone operating system of artificial intelligence"
    code, out, err = _run(capsys, "search", query, "-k", "3", "--json", "--db", str(sample_db))
    assert code == 0, err
    hits = [json.loads(line) for line in out.splitlines()]
    assert len(hits) == 3
    assert any("Android of AI" in h["text"] for h in hits[:2]), hits  # no word of the query but "open" is shared
    assert hits[0]["theme_id"] == _android_theme(sample_db)
    assert hits[0]["source"] and hits[0]["url"].startswith("https://") and hits[0]["published_at"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    code, out, _ = _run(capsys, "search", "loss leader", "--mode", "keyword", "--json", "--db", str(sample_db))
    assert code == 0
    found = [json.loads(line) for line in out.splitlines()]
    assert found and all(re.search(r"\bloss|\bleader", h["text"], re.I) for h in found)
    assert "loss leader" in found[0]["text"].lower()
    with_phrase = _rows(
        sample_db, "SELECT count(DISTINCT coalesce(same_as, claim_id)) FROM claims WHERE text ILIKE '%loss leader%'"
    )[0][0]
    assert sum("loss leader" in h["text"].lower() for h in found) == with_phrase

    code, out, _ = _run(capsys, "search", "zzyzx qwertyuiop", "--mode", "keyword", "--db", str(sample_db))
    assert code == 0 and "no matching claims" in out


def test_search_folds_repeats_and_rebuilds_its_index_when_claims_change(
    capsys: pytest.CaptureFixture[str], sample_db: Path
) -> None:
    from store import search

    index, built = search.ensure(sample_db)
    assert built and index == search.index_path(sample_db)
    assert search.ensure(sample_db) == (index, False)
    for matrix in index.parent.glob(index.name + ".vectors-*.npy"):  # a cache cleaner took the vectors: rebuilt
        matrix.unlink()
    assert search.ensure(sample_db) == (index, True)
    original = _rows(sample_db, "SELECT claim_id, document_id, text FROM claims WHERE same_as IS NULL LIMIT 1")[0]
    with duckdb.connect(str(sample_db)) as con:  # 30 word-for-word repeats of it, as a syndicated line would give
        con.execute(
            "INSERT INTO claims (claim_id, document_id, seq, text, quote, start_char, end_char, actors, entities, "
            "claim_type, hedged, score, text_key, same_as, extractor) SELECT 'clm_repeat_' || i, document_id, "
            "1000 + i, text, quote, start_char, end_char, actors, entities, claim_type, hedged, score, text_key, "
            "claim_id, extractor FROM claims, range(30) r(i) WHERE claim_id = ?",
            [original[0]],
        )
    assert search.ensure(sample_db)[1]  # stale: rebuilt
    code, out, _ = _run(capsys, "search", original[2], "-k", "5", "--json", "--db", str(sample_db))
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(hits) == 5 and len({h["claim_id"] for h in hits}) == 5
    assert hits[0]["claim_id"] == original[0] and hits[0]["repeats"] == 30 and hits[0]["score"] > 0.97
    assert all(not h["claim_id"].startswith("clm_repeat_") for h in hits)
    code, out, _ = _run(capsys, "search", original[2], "-k", "5", "--db", str(sample_db))
    assert code == 0 and "(+30" in out and "repeats)" in out  # the table may wrap the note across two lines


def test_sql_reads_any_duckdb_file_and_research_commands_refuse_unknown_names(
    capsys: pytest.CaptureFixture[str], sample_db: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign.duckdb"
    with duckdb.connect(str(foreign)) as con:
        con.execute("CREATE TABLE t AS SELECT 42 AS answer")
    code, out, err = _run(capsys, "sql", "SELECT answer FROM t", "--db", str(foreign))
    assert code == 0 and "42" in out, err
    code, _, err = _run(
        capsys, "export", "--table", "no_such_table", "--out", str(tmp_path / "x"), "--db", str(sample_db)
    )
    assert code != 0 and "no table or view no_such_table" in err and not (tmp_path / "x").exists()
    code, _, err = _run(
        capsys, "plot", "theme-timeline", "99999", "--out", str(tmp_path / "c.png"), "--db", str(sample_db)
    )
    assert code != 0 and "no theme 99999" in err and not (tmp_path / "c.png").exists()


def test_an_older_database_gets_the_views_on_first_read(capsys: pytest.CaptureFixture[str], sample_db: Path) -> None:
    with duckdb.connect(str(sample_db)) as con:
        for view in ("theme_lineage", "theme_actors", "theme_timeline", "claim_provenance"):
            con.execute(f"DROP VIEW {view}")
        con.execute("DELETE FROM schema_migrations WHERE version = 10")
    code, out, err = _run(capsys, "sql", "SELECT count(*) AS n FROM claim_provenance", "--db", str(sample_db))
    assert code == 0, err
    assert str(_rows(sample_db, "SELECT count(*) FROM claims")[0][0]) in out
    assert sample_db.with_name(sample_db.name + ".before-v0010.bak").exists()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_every_row_of_every_table(
    capsys: pytest.CaptureFixture[str], sample_db: Path, tmp_path: Path, fmt: str
) -> None:
    out_dir = tmp_path / "export"
    code, out, err = _run(capsys, "export", "--format", fmt, "--views", "--out", str(out_dir), "--db", str(sample_db))
    assert code == 0, err
    tables = [r[0] for r in _rows(sample_db, "SELECT table_name FROM information_schema.tables")]
    assert sorted(p.stem for p in out_dir.iterdir()) == sorted(tables)
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    with duckdb.connect() as con:
        for table in tables:
            expected = _rows(sample_db, f'SELECT count(*) FROM "{table}"')[0][0]
            got = con.execute(f"SELECT count(*) FROM {reader}(?)", [str(out_dir / f"{table}.{fmt}")]).fetchone()[0]
            assert got == expected, table
            assert f"{table}: {expected} rows" in out
    if fmt == "parquet":  # values survive exactly, lists and vectors included
        with duckdb.connect() as con:
            back = con.execute(
                "SELECT * FROM read_parquet(?) ORDER BY claim_id", [str(out_dir / "claims.parquet")]
            ).fetchall()
        assert back == _rows(sample_db, "SELECT * FROM claims ORDER BY claim_id")

    code, out, _ = _run(
        capsys,
        "export",
        "--table",
        "theme_lineage",
        "--format",
        fmt,
        "--out",
        str(tmp_path / "one"),
        "--db",
        str(sample_db),
    )
    assert code == 0 and [p.name for p in (tmp_path / "one").iterdir()] == [f"theme_lineage.{fmt}"]


def test_sql_explains_snapshots_while_a_run_writes_and_snapshot_waits_for_it(
    capsys: pytest.CaptureFixture[str], sample_db: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "snap.duckdb"
    with run_lock(sample_db):
        code, _, err = _run(capsys, "sql", "SELECT count(*) FROM claims", "--db", str(sample_db))
        assert code != 0 and len(err.strip().splitlines()) == 1
        assert "a run (pid" in err and "undercurrent snapshot" in err
        code, _, err = _run(capsys, "snapshot", str(copy), "--wait", "0", "--db", str(sample_db))
        assert code != 0 and "still holds" in err and not copy.exists()
    code, out, err = _run(capsys, "snapshot", str(copy), "--db", str(sample_db))
    assert code == 0, err
    assert table_contents(copy) == table_contents(sample_db)
    code, _, err = _run(capsys, "snapshot", str(copy), "--db", str(sample_db))
    assert code != 0 and "exists" in err
    code, out, _ = _run(capsys, "sql", "SELECT count(*) AS n FROM theme_lineage", "--db", str(copy))
    assert code == 0 and str(_rows(sample_db, "SELECT count(*) FROM theme_lineage")[0][0]) in out


def test_theme_show_and_plot(capsys: pytest.CaptureFixture[str], sample_db: Path, tmp_path: Path) -> None:
    theme = _android_theme(sample_db)
    label, keywords = _rows(sample_db, "SELECT label, keywords FROM themes WHERE theme_id = ?", [theme])[0]
    first = _rows(sample_db, "SELECT source_name FROM theme_lineage WHERE theme_id = ? AND rank = 1", [theme])[0][0]
    code, out, err = _run(capsys, "theme", "show", str(theme), "--db", str(sample_db))
    assert code == 0, err
    assert f"Theme {theme}: {label}" in out and keywords[0] in out
    for heading in ("Timeline", "Most representative claims", "Lineage", "Related themes"):
        assert heading in out
    assert "Android of AI" in out and "echo" in out
    assert any(first in line and re.search(r"\bfirst\b", line) for line in out.splitlines()), out
    code, _, err = _run(capsys, "theme", "show", "99999", "--db", str(sample_db))
    assert code != 0 and "no theme 99999" in err

    chart = tmp_path / "timeline.png"
    code, out, err = _run(capsys, "plot", "theme-timeline", str(theme), "--out", str(chart), "--db", str(sample_db))
    assert code == 0, err
    from PIL import Image

    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size == (1200, 600)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 20  # bars, line, text: not a blank canvas


def test_the_readme_questions_run_on_the_sample(sample_db: Path) -> None:
    """Each question's query runs, and the table the README shows under it is what the query returns first."""
    section = re.search(r"^## Questions answered in SQL\n(.*?)(?=^## )", README, re.S | re.M)
    assert section, "README lacks its 'Questions answered in SQL' section"
    parts = re.split(r"```sql\n(.*?)```", section.group(1), flags=re.S)
    blocks = list(zip(parts[1::2], parts[2::2], strict=True))  # (query, the text up to the next query)
    assert len(blocks) >= 5
    for sql, answer in blocks:
        rows = _rows(sample_db, sql)
        assert rows, sql
        shown = [
            [cell.strip() for cell in line.strip().strip("|").split("|")[:2]]
            for line in answer.splitlines()
            if line.startswith("|") and not line.startswith("|---")
        ][1:]  # the header row names the columns
        assert shown, f"no table under:\n{sql}"
        for row, expected in zip(rows, shown, strict=False):
            cells = [str(v) for v in row[:2]]
            assert all(e in c or c in e for c, e in zip(cells, expected, strict=True)), (
                f"the README's answer is stale for:\n{sql}\nrow now: {row}, README shows: {expected}"
            )


def test_semantic_ranking_equals_a_brute_force_ranking_over_the_database(sample_db: Path) -> None:
    import numpy as np

    from cluster.embed import Embedder
    from store import search

    query = Embedder().encode(["chip export controls made Chinese labs more efficient"])[0]
    index, _ = search.ensure(sample_db)
    hits = search.semantic(index, query, 10)
    with duckdb.connect(str(sample_db), read_only=True) as con:
        found = con.execute(
            "SELECT c.claim_id, e.vector::FLOAT[384] AS vector FROM claims c "
            "JOIN embeddings e ON e.text_hash = sha256(c.text) AND e.model = ? WHERE c.same_as IS NULL",
            [Embedder().name],
        ).fetchnumpy()
        unsearchable = con.execute(
            "SELECT count(*) FROM claims c WHERE c.same_as IS NULL AND NOT EXISTS (SELECT 1 FROM embeddings e "
            "WHERE e.text_hash = sha256(c.text) AND e.model = ?)",
            [Embedder().name],
        ).fetchone()[0]
    assert unsearchable == 0  # every claim has a plain MiniLM vector, whatever the sentence it came from
    scores = np.stack(found["vector"]) @ query
    expected = sorted(zip(found["claim_id"], scores, strict=True), key=lambda p: (-p[1], p[0]))[:10]
    assert [h.claim_id for h in hits] == [str(c) for c, _ in expected]
    assert [round(h.score, 5) for h in hits] == [round(float(s), 5) for _, s in expected]
