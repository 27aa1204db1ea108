"""Claims and the embedding cache."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np

from core.models import Claim
from store.db import transaction, utc_now


def save_claims(con: duckdb.DuckDBPyConnection, document_id: str, claims: list[Claim], run_date: date) -> None:
    """Store a document's claims and mark it processed, atomically (a crash leaves it unprocessed)."""
    with transaction(con):
        if claims:
            con.executemany(
                "INSERT INTO claims (claim_id, document_id, seq, text, quote, start_char, end_char, start_seconds, "
                "speaker, actors, entities, claim_type, hedged, score) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                    ]
                    for c in claims
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
        con.executemany(
            "INSERT INTO embeddings VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [[model, h, v.astype(np.float32).tolist()] for h, v in items.items()],
        )
