"""Search latency on 100k claims: `undercurrent search`'s index, semantic and keyword queries, against baselines.

    .venv/bin/python bench/search.py --claims 100000 --repeat 10

A fresh database gets N claims (the labelled claims of labels/themes, varied by a numbered suffix so that every
text is distinct) spread over 2,000 documents from 20 sources, each with a cached 384-d vector (seeded random
unit vectors: latency does not depend on what the vectors say; the query is embedded with the real model).
Then, median of --repeat runs each:

- index build (the first search after a run pays it once);
- semantic: ranking every claim by cosine (one product over the index's memory-mapped vectors), then provenance
  of the hits, vs the baseline
  of reading every claim's vector out of the database into numpy (fetchnumpy) and ranking there;
- keyword: BM25 over the full-text index, vs the baseline of an ILIKE scan (which cannot rank);
- the whole command, `undercurrent search` in a new process (Python start-up and model load included).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.themes import labelled_claims  # noqa: E402

SETS = ("themes.jsonl", "tuning.jsonl", "train.jsonl")
QUERIES = (
    "China gives away AI models to win cloud customers later",
    "export controls pushed Chinese labs to become more efficient",
    "the American power grid cannot keep up with data centres",
    "Europe is caught between the American and Chinese AI stacks",
    "Huawei chips replace Nvidia in Chinese data centres",
)


def build_database(db: Path, claims: int, seed: int) -> str:
    from cluster.embed import Embedder
    from core.ids import text_hash
    from store.db import connect

    texts: list[str] = []
    for name in SETS:
        texts += labelled_claims(ROOT / "labels" / "themes" / name)[0]
    rng = np.random.default_rng(seed)
    model = Embedder().name
    with connect(db) as con:
        con.execute(
            "INSERT INTO sources (source_id, name, kind, url, country, added_at) "
            "SELECT 'src_' || i, 'Outlet ' || i, 'news', 'https://outlet' || i || '.example/feed', "
            "['US', 'CN', 'GB', 'DE'][1 + i % 4], now() FROM range(20) t(i)"
        )
        con.execute(
            "INSERT INTO documents (document_id, source_id, kind, url, title, published_at, text, content_hash, "
            "ingested_at) SELECT 'doc_' || i, 'src_' || (i % 20), 'article', 'https://outlet' || (i % 20) || "
            "'.example/a/' || i, 'Article ' || i, TIMESTAMP '2026-01-01' + INTERVAL (i % 300) DAY, 'text', "
            "'hash' || i, now() FROM range(2000) t(i)"
        )
        batch = 20_000
        for start in range(0, claims, batch):
            rows = range(start, min(claims, start + batch))
            claim_texts = [f"{texts[i % len(texts)]} (item {i})" for i in rows]
            vectors = rng.normal(size=(len(claim_texts), 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            con.execute(
                "INSERT INTO claims (claim_id, document_id, seq, text, quote, start_char, end_char, actors, "
                "entities, claim_type, hedged, score) SELECT 'clm_' || i, 'doc_' || (i % 2000), i, t, t, 0, "
                "length(t), ['US'], [], 'thesis', false, 0.9 FROM (SELECT unnest($ids) AS i, unnest($texts) AS t)",
                {"ids": list(rows), "texts": claim_texts},
            )
            con.execute(
                "INSERT INTO embeddings SELECT $model, unnest($hashes), unnest($vectors)::FLOAT[]",
                {"model": model, "hashes": [text_hash(t) for t in claim_texts], "vectors": vectors.tolist()},
            )
        con.execute("CHECKPOINT")
    return model


def median_time(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import duckdb

    from cluster.embed import Embedder
    from flows.research import _describe
    from store import search
    from store.db import connect

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.duckdb"
        start = time.perf_counter()
        model = build_database(db, args.claims, args.seed)
        print(f"{args.claims:,} claims with vectors ({model}) written in {time.perf_counter() - start:.1f} s")

        builds = []
        for _ in range(3):
            search.index_path(db).unlink(missing_ok=True)
            start = time.perf_counter()
            search.ensure(db)
            builds.append(time.perf_counter() - start)
        index = search.index_path(db)
        print(
            f"index build (median of 3): {statistics.median(builds):.2f} s; "
            f"reuse check {median_time(lambda: search.ensure(db), args.repeat) * 1000:.1f} ms"
        )

        embedder = Embedder()
        query_vectors = [embedder.encode([q])[0] for q in QUERIES]
        embed_one = median_time(lambda: embedder.encode([QUERIES[0]]), args.repeat)

        def with_sources(hits: list[search.Hit]) -> None:
            with connect(db, read_only=True) as con:
                _describe(con, hits, 10)

        def ours_semantic() -> None:
            for vector in query_vectors:
                with_sources(search.semantic(index, vector, 40))

        def numpy_semantic() -> None:
            for vector in query_vectors:
                with duckdb.connect(str(db), read_only=True) as con:
                    found = con.execute(
                        "SELECT c.claim_id, e.vector::FLOAT[384] AS vector FROM claims c "
                        "JOIN embeddings e ON e.text_hash = sha256(c.text)"
                    ).fetchnumpy()
                scores = np.stack(found["vector"]) @ vector
                np.argsort(-scores)[:10]

        def ours_keyword() -> None:
            for query in QUERIES:
                with_sources(search.keyword(index, query, 40))

        def ilike_keyword() -> None:
            for query in QUERIES:
                words = [w for w in query.split() if len(w) > 3][:3]
                condition = " AND ".join("text ILIKE ?" for _ in words)
                with duckdb.connect(str(db), read_only=True) as con:
                    con.execute(f"SELECT claim_id FROM claims WHERE {condition} LIMIT 10", [f"%{w}%" for w in words])

        semantic_ours = median_time(ours_semantic, args.repeat) / len(QUERIES)
        semantic_base = median_time(numpy_semantic, max(1, args.repeat // 3)) / len(QUERIES)
        keyword_ours = median_time(ours_keyword, args.repeat) / len(QUERIES)
        keyword_base = median_time(ilike_keyword, args.repeat) / len(QUERIES)
        print(f"query embedding: {embed_one * 1000:.1f} ms")
        print(
            f"semantic top-10 with sources: {semantic_ours * 1000:.1f} ms per query; baseline (all vectors into "
            f"numpy): {semantic_base * 1000:.1f} ms; ratio {semantic_ours / semantic_base:.2f}"
        )
        print(
            f"keyword (BM25) top-10 with sources: {keyword_ours * 1000:.1f} ms per query; baseline (ILIKE scan, "
            f"unranked): {keyword_base * 1000:.1f} ms; ratio {keyword_ours / keyword_base:.2f}"
        )
        command = [sys.executable, "-m", "flows.cli", "search", QUERIES[1], "--db", str(db), "-k", "10"]
        whole = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            whole.append(time.perf_counter() - start)
        print(f"`undercurrent search` end to end, new process (median of 3): {statistics.median(whole):.2f} s")


if __name__ == "__main__":
    main()
