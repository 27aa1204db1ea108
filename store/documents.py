"""Sources, documents, transcript segments and ingest errors."""

from __future__ import annotations

import duckdb

from core.models import Document, Source
from extract.dedupe import Fingerprint, content_hash, find_duplicate, fingerprint, lsh_bands
from store.db import transaction, utc_now


def upsert_sources(con: duckdb.DuckDBPyConnection, sources: list[Source]) -> None:
    for s in sources:
        con.execute(
            "INSERT INTO sources (source_id, name, kind, url, country, owner, state_affiliated, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id) DO UPDATE SET "
            "name = excluded.name, kind = excluded.kind, country = excluded.country, "
            "owner = excluded.owner, state_affiliated = excluded.state_affiliated",
            [s.source_id, s.name, s.kind, s.url, s.country, s.owner, s.state_affiliated, utc_now()],
        )


def add_source_if_new(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Record an ad-hoc source (a URL or file given to ingest) without touching a configured one."""
    con.execute(
        "INSERT INTO sources (source_id, name, kind, url, country, owner, state_affiliated, added_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            source.source_id,
            source.name,
            source.kind,
            source.url,
            source.country,
            source.owner,
            source.state_affiliated,
            utc_now(),
        ],
    )


def known_document_ids(con: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = con.execute("SELECT document_id FROM documents WHERE document_id IN (SELECT unnest(?))", [ids])
    return {r[0] for r in rows.fetchall()}


def _canonical_for(con: duckdb.DuckDBPyConnection, doc: Document, digest: str, print_: Fingerprint) -> str | None:
    """The kept document this one copies: same content hash, else a near-duplicate found through LSH buckets."""
    exact = con.execute(
        "SELECT coalesce(canonical_id, document_id) FROM documents WHERE content_hash = ? "
        "ORDER BY ingested_at, document_id LIMIT 1",
        [digest],
    ).fetchone()
    if exact:
        return str(exact[0])
    bands = lsh_bands(print_.signature)
    rows = con.execute(
        "SELECT d.document_id, d.minhash, d.shingles FROM documents d WHERE d.canonical_id IS NULL AND d.kind = ? "
        "AND d.document_id IN (SELECT document_id FROM minhash_bands b "
        "  JOIN (SELECT unnest(?) AS band, unnest(?) AS bucket) q USING (band, bucket)) "
        "ORDER BY d.published_at NULLS LAST, d.document_id",
        [doc.kind, [b for b, _ in bands], [k for _, k in bands]],
    ).fetchall()
    return find_duplicate(print_, [(r[0], Fingerprint(r[1], r[2] or 0)) for r in rows])


def insert_document(con: duckdb.DuckDBPyConnection, doc: Document) -> bool:
    """Store a new document (with its segments) unless its key is known; returns whether it was new.

    A near-duplicate of a stored document is kept, with canonical_id pointing at the earlier copy.
    """
    if known_document_ids(con, [doc.document_id]):
        return False
    digest = content_hash(doc.text)
    print_ = fingerprint(doc.text)
    canonical = _canonical_for(con, doc, digest, print_)
    with transaction(con):
        con.execute(
            "INSERT INTO documents (document_id, source_id, kind, url, title, published_at, language, text, "
            "canonical_id, guid, author, audio_url, extraction, content_hash, minhash, ingested_at, site_name, "
            "date_source, shingles, duration_seconds, people, chapters_url, transcript_format) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                doc.document_id,
                doc.source_id,
                doc.kind,
                doc.url,
                doc.title,
                doc.published_at,
                doc.language,
                doc.text,
                canonical,
                doc.guid,
                doc.author,
                doc.audio_url,
                doc.extraction,
                digest,
                print_.signature,
                utc_now(),
                doc.site_name,
                doc.date_source,
                print_.shingles,
                doc.duration_seconds,
                list(doc.people),
                doc.chapters_url,
                doc.transcript_format,
            ],
        )
        bands = lsh_bands(print_.signature)
        con.execute(
            "INSERT INTO minhash_bands SELECT unnest(?::SMALLINT[]), unnest(?::UBIGINT[]), ?",
            [[band for band, _ in bands], [bucket for _, bucket in bands], doc.document_id],
        )
        if doc.spans:
            columns = list(
                zip(
                    *[
                        (i, s.start_seconds, s.end_seconds, s.speaker, s.start_char, s.end_char)
                        for i, s in enumerate(doc.spans)
                    ],
                    strict=True,
                )
            )
            con.execute(
                "INSERT INTO segments (document_id, seq, start_seconds, end_seconds, speaker, start_char, end_char) "
                "SELECT ?, unnest(?::INTEGER[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::VARCHAR[]), "
                "unnest(?::INTEGER[]), unnest(?::INTEGER[])",
                [doc.document_id, *[list(column) for column in columns]],
            )
    return True


def record_ingest_error(con: duckdb.DuckDBPyConnection, url: str, source_id: str | None, reason: str) -> None:
    con.execute(
        "INSERT INTO ingest_errors (url, source_id, reason, occurred_at) VALUES (?, ?, ?, ?)",
        [url, source_id, reason[:1000], utc_now()],
    )


def unprocessed_documents(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, bool, str | None, str]]:
    """(document_id, text, is_canonical, language, kind) of documents whose claims have not been extracted yet."""
    rows = con.execute(
        "SELECT document_id, text, canonical_id IS NULL, language, kind FROM documents WHERE processed_for IS NULL "
        "ORDER BY document_id"
    ).fetchall()
    return [(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]


def segments_of(
    con: duckdb.DuckDBPyConnection, document_id: str
) -> list[tuple[float, float | None, str | None, int, int]]:
    return con.execute(
        "SELECT start_seconds, end_seconds, speaker, start_char, end_char FROM segments "
        "WHERE document_id = ? ORDER BY seq",
        [document_id],
    ).fetchall()
