"""Migrations: an empty database migrates to exactly the documented schema, once."""

from __future__ import annotations

from pathlib import Path

import duckdb

from store.db import migrate, migrations, open_db

CONTRACT = {
    "documents": [
        "document_id",
        "source_id",
        "kind",
        "url",
        "title",
        "published_at",
        "language",
        "text",
        "canonical_id",
    ],
    "claims": [
        "claim_id",
        "document_id",
        "text",
        "quote",
        "start_char",
        "end_char",
        "start_seconds",
        "actors",
        "claim_type",
        "score",
    ],
    "themes": ["theme_id", "label", "keywords", "first_seen", "last_seen"],
    "claim_themes": ["claim_id", "theme_id"],
    "digests": ["digest_date"],
    "digest_items": ["digest_date", "rank", "claim_id", "theme_id", "headline", "text"],
    "subscribers": ["subscriber_id", "email", "status"],
    "deliveries": ["digest_date", "subscriber_id", "status"],
    "runs": ["run_id", "started_at", "finished_at", "status"],
}

EXPECTED_TABLES = {
    "feed_state",
    "theme_daily",
    "theme_changes",
    "theme_terms",
    "theme_reclusters",
    "subscriber_themes",
    "personal_items",
    "minhash_bands",
    "syndication",
    "claim_provenance",
    "theme_timeline",
    "theme_actors",
    "theme_lineage",
    "schema_migrations",
    "sources",
    "documents",
    "segments",
    "claims",
    "embeddings",
    "themes",
    "claim_themes",
    "digests",
    "digest_items",
    "subscribers",
    "deliveries",
    "runs",
    "ingest_errors",
}


def columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns ORDER BY table_name, ordinal_position"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_empty_database_migrates_to_the_contract(tmp_path: Path) -> None:
    con = open_db(tmp_path / "new.duckdb")
    schema = columns(con)
    assert set(schema) == EXPECTED_TABLES
    for table, required in CONTRACT.items():
        missing = [c for c in required if c not in schema[table]]
        assert not missing, f"{table} lacks {missing}"
    applied = con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert applied == [(v, n) for v, n, _ in migrations()]
    con.close()


def test_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "again.duckdb"
    open_db(path).close()
    con = duckdb.connect(str(path))
    assert migrate(con) == []
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(migrations())
    con.close()


def test_claim_types_and_actor_lists_round_trip(tmp_path: Path) -> None:
    con = open_db(tmp_path / "types.duckdb")
    con.execute(
        "INSERT INTO claims (claim_id, document_id, seq, text, quote, start_char, end_char, start_seconds, speaker, "
        "actors, entities, claim_type, hedged, score) VALUES ('c1', 'd1', 0, 't', 'q', 0, 1, 12.5, 'Ann', "
        "['CN', 'US'], ['DeepSeek'], 'thesis', false, 0.9)"
    )
    actors, seconds = con.execute("SELECT actors, start_seconds FROM claims").fetchone()
    assert actors == ["CN", "US"] and seconds == 12.5
    con.close()


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [v for v, _, _ in migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_upgrading_a_database_keeps_a_copy_of_it_first(tmp_path: Path) -> None:
    import duckdb

    db = tmp_path / "old.duckdb"
    con = open_db(db)
    con.execute("INSERT INTO sources (source_id, name, kind, added_at) VALUES ('s1', 'Kept', 'news', now())")
    last = migrations()[-1][0]
    con.execute("DELETE FROM schema_migrations WHERE version = ?", [last])  # as a file from before the last one
    con.execute("CHECKPOINT")
    con.close()
    fresh = tmp_path / "new.duckdb"
    open_db(fresh).close()
    assert not list(tmp_path.glob("new.duckdb.before-*"))  # a new database has nothing to keep
    from core.errors import UserError

    try:
        open_db(db).close()
    except UserError:
        pass  # the last migration's tables are still there, so applying it again fails: only the copy matters
    backup = tmp_path / f"old.duckdb.before-v{last:04d}.bak"
    assert backup.exists()
    with duckdb.connect(str(backup), read_only=True) as copy:
        assert copy.execute("SELECT name FROM sources").fetchall() == [("Kept",)]
        assert last not in {r[0] for r in copy.execute("SELECT version FROM schema_migrations").fetchall()}
