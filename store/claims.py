"""Claims and the embedding cache."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import numpy as np

from core.ids import text_hash
from core.models import Claim
from store.db import transaction, utc_now


def text_key(text: str) -> str:
    """Key under which word-for-word repeats of a claim meet: case, spacing and punctuation ignored."""
    words = re.findall(r"[^\W_]+", text.casefold())
    return text_hash(" ".join(words))[:24]


def save_claims(
    con: duckdb.DuckDBPyConnection, document_id: str, claims: list[Claim], run_date: date, extractor: str = "local"
) -> None:
    """Store a document's claims and mark it processed, atomically (a crash leaves it unprocessed).

    A claim whose text repeats one stored earlier (in any document) is linked to it with ``same_as``.
    """
    with transaction(con):
        if claims:
            keys = [text_key(c.text) for c in claims]
            rows = con.execute(
                "SELECT text_key, min(claim_id) FROM claims WHERE same_as IS NULL AND text_key IN (SELECT unnest(?)) "
                "GROUP BY text_key",
                [sorted(set(keys))],
            ).fetchall()
            first: dict[str, str] = dict(rows)  # type: ignore[arg-type]
            links = []
            for claim, key in zip(claims, keys, strict=True):
                original = first.get(key)
                links.append(original if original != claim.claim_id else None)
                first.setdefault(key, claim.claim_id)
            con.executemany(
                "INSERT INTO claims (claim_id, document_id, seq, text, quote, start_char, end_char, start_seconds, "
                "speaker, actors, entities, claim_type, hedged, score, text_key, same_as, extractor) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [
                    [
                        c.claim_id,
                        c.document_id,
                        c.seq,
                        c.text,
                        c.quote,
                        c.start_char,
                        c.end_char,
                        c.start_seconds,
                        c.speaker,
                        list(c.actors),
                        list(c.entities),
                        c.claim_type,
                        c.hedged,
                        c.score,
                        key,
                        link,
                        extractor,
                    ]
                    for c, key, link in zip(claims, keys, links, strict=True)
                ],
            )
        con.execute(
            "UPDATE documents SET processed_for = ?, processed_at = ? WHERE document_id = ?",
            [run_date, utc_now(), document_id],
        )


def cached_vectors(con: duckdb.DuckDBPyConnection, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
    if not hashes:
        return {}
    rows = con.execute(
        "SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN (SELECT unnest(?))",
        [model, hashes],
    ).fetchall()
    return {h: np.asarray(v, dtype=np.float32) for h, v in rows}


def cache_vectors(con: duckdb.DuckDBPyConnection, model: str, items: dict[str, np.ndarray]) -> None:
    if items:
        con.execute(
            "INSERT INTO embeddings SELECT $model, unnest($hashes), unnest($vectors)::FLOAT[] ON CONFLICT DO NOTHING",
            {
                "model": model,
                "hashes": list(items),
                "vectors": [v.astype(np.float32).tolist() for v in items.values()],
            },
        )
