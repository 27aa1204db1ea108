"""The search index: claim texts with a full-text (BM25) index and their vectors, in a file beside the database.

The database itself stays read-only for researchers: ``undercurrent search`` keeps its index in
``<db>.search`` and rebuilds it when the claims or their vectors changed since it was built (the first search
after a run pays for it; the others reuse it). Keyword search uses DuckDB's full-text extension, loaded from the
``duckdb-extension-fts`` package (nothing is downloaded); semantic search ranks by cosine similarity between
the query's vector and every claim's, kept as a matrix file beside the index and mapped into memory.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from core.errors import DatabaseBusy, UserError

DIMENSIONS = 384
INDEX_FORMAT = 2  # bumped when the index's layout changes: an older index is rebuilt


@dataclass(frozen=True)
class Hit:
    claim_id: str
    score: float


def sql_string(path: Path) -> str:
    """A path as an SQL string literal (for statements that take no parameters, such as ATTACH and COPY)."""
    return "'" + str(path).replace("'", "''") + "'"


def index_path(db: Path) -> Path:
    """``<db>.search`` beside the database, or in the cache folder when the database's folder is read-only."""
    if os.access(db.parent, os.W_OK):
        return db.with_name(db.name + ".search")
    from cluster.embed import cache_root

    digest = hashlib.blake2b(str(db.resolve()).encode(), digest_size=8).hexdigest()
    try:
        folder = cache_root() / "search"
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError) as exc:
        raise UserError(
            f"cannot keep a search index beside {db} (read-only folder) nor in the cache folder ({exc}); "
            "set UNDERCURRENT_CACHE to a writable folder"
        ) from None
    return folder / f"{db.name}-{digest}.search"


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the full-text extension shipped as a Python package (the one built for this DuckDB)."""
    import duckdb_extension_fts

    path = Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if not path.is_file():
        raise UserError(
            f"keyword search needs duckdb-extension-fts=={duckdb.__version__} (the one built for this DuckDB)"
        )
    con.execute(f"LOAD {sql_string(path)}")


def signature(con: duckdb.DuckDBPyConnection) -> str:
    """What the index depends on: the claims (ids and texts) and the cached vectors."""
    row = con.execute(
        "SELECT count(*), coalesce(sum(hash(claim_id, text, same_as)), 0) FROM claims UNION ALL "
        "SELECT count(*), coalesce(sum(hash(model, text_hash)), 0) FROM embeddings"
    ).fetchall()
    return f"format {INDEX_FORMAT};" + ";".join(f"{n}:{h}" for n, h in row)


def vector_model(con: duckdb.DuckDBPyConnection) -> str | None:
    """The embedding path that vectorised the most claims (all are MiniLM; their vectors agree, cosine >= 0.99).

    The theme encoder's vectors (``+theme-`` in the name) are for grouping themes, not for matching a query that
    plain MiniLM embeds, so they never count.
    """
    row = con.execute(
        "SELECT e.model FROM claims c JOIN embeddings e ON e.text_hash = sha256(c.text) "
        "WHERE e.model NOT LIKE '%+theme-%' GROUP BY e.model ORDER BY count(*) DESC, e.model LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def is_current(index: Path, current: str) -> bool:
    if not index.is_file():
        return False
    try:
        with duckdb.connect(str(index), read_only=True) as con:
            row = con.execute("SELECT signature, vectors_file FROM index_meta").fetchone()
    except duckdb.Error:
        return False
    return row is not None and row[0] == current and index.with_name(row[1]).is_file()


def build(db: Path, index: Path) -> None:
    """Rebuild the index from the database (opened read-only), atomically: a reader never sees half of one."""
    _remove_abandoned_builds(index)
    partial = index.with_name(index.name + f".building-{os.getpid()}")
    partial_vectors = index.with_name(partial.name + ".npy")
    partial.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(partial)) as con:
            here = con.execute("SELECT current_database()").fetchone()[0]
            try:
                con.execute(f"ATTACH {sql_string(db)} AS src (READ_ONLY)")
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower():
                    raise DatabaseBusy(f"database {db} is in use by another Undercurrent process") from None
                raise
            con.execute("USE src")
            current, model = signature(con), vector_model(con)
            con.execute(f'USE "{here}"')
            # Originals only: a word-for-word repeat is found through its original (and counted with it).
            con.execute(
                "CREATE TABLE claims AS SELECT claim_id, text FROM src.claims WHERE same_as IS NULL ORDER BY claim_id"
            )
            found = con.execute(
                f"SELECT c.claim_id, e.vector::FLOAT[{DIMENSIONS}] AS vector FROM src.claims c "
                "JOIN src.embeddings e ON e.text_hash = sha256(c.text) AND e.model = ? "
                "WHERE c.same_as IS NULL ORDER BY c.claim_id",
                [model],
            ).fetchnumpy()
            ids = [str(i) for i in found["claim_id"]]
            con.execute("CREATE TABLE vectors (row INTEGER PRIMARY KEY, claim_id VARCHAR NOT NULL)")
            con.execute("INSERT INTO vectors SELECT unnest(range(len($ids)))::INTEGER, unnest($ids)", {"ids": ids})
            matrix = np.stack(found["vector"]).astype(np.float32) if ids else np.zeros((0, DIMENSIONS), np.float32)
            vectors_file = f"{index.name}.vectors-{hashlib.blake2b(current.encode(), digest_size=8).hexdigest()}.npy"
            np.save(partial_vectors, matrix, allow_pickle=False)
            con.execute(
                "CREATE TABLE index_meta AS SELECT ? AS signature, ? AS model, ? AS vectors_file, now() AS built_at",
                [current, model, vectors_file],
            )
            con.execute("DETACH src")
            load_fts(con)
            con.execute("PRAGMA create_fts_index('claims', 'claim_id', 'text', stemmer='english', stopwords='english')")
            con.execute("CHECKPOINT")
        os.replace(partial_vectors, index.with_name(vectors_file))  # the matrix first: the index names it
        os.replace(partial, index)
        for old in index.parent.glob(index.name + ".vectors-*.npy"):
            if old.name != vectors_file:
                old.unlink(missing_ok=True)
    finally:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
        partial_vectors.unlink(missing_ok=True)


ABANDONED_AFTER = 6 * 3600  # seconds: a partial index this old belongs to a search that was killed


def _remove_abandoned_builds(index: Path) -> None:
    """Partial indexes left by a search that was killed while building: old, and their process gone."""
    for leftover in index.parent.glob(index.name + ".building-*"):
        pid = leftover.name.rpartition("-")[2].split(".")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if time.time() - leftover.stat().st_mtime < ABANDONED_AFTER:
                continue  # perhaps another machine's build in progress on a shared folder
        except FileNotFoundError:
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            leftover.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


def ensure(db: Path, announce: Callable[[], None] | None = None) -> tuple[Path, bool]:
    """The index for ``db``, rebuilt first when stale (``announce`` is called before); True when it was (re)built."""
    from store.db import connect

    index = index_path(db)
    with connect(db, read_only=True, must_exist=True, busy_wait=5.0) as con:
        current = signature(con)
    if is_current(index, current):
        return index, False
    if announce is not None:
        announce()
    build(db, index)
    return index, True


def keyword(index: Path, query: str, limit: int) -> list[Hit]:
    """BM25 over claim texts (English stemming and stop words); words of the query need not be adjacent."""
    with duckdb.connect(str(index), read_only=True) as con:
        load_fts(con)
        rows = con.execute(
            "SELECT claim_id, score FROM (SELECT claim_id, fts_main_claims.match_bm25(claim_id, ?) AS score "
            "FROM claims) WHERE score IS NOT NULL ORDER BY score DESC, claim_id LIMIT ?",
            [query, limit],
        ).fetchall()
    return [Hit(claim_id, float(score)) for claim_id, score in rows]


def semantic(index: Path, vector: np.ndarray, limit: int) -> list[Hit]:
    """Claims by cosine similarity to ``vector`` (vectors are unit length: the dot product is the cosine).

    The claims' vectors lie in a matrix file beside the index, mapped into memory: one product ranks them all.
    """
    with duckdb.connect(str(index), read_only=True) as con:
        name = con.execute("SELECT vectors_file FROM index_meta").fetchone()[0]
        try:
            matrix = np.load(index.with_name(name), mmap_mode="r")
        except FileNotFoundError:
            raise UserError("the search index was rebuilt meanwhile; search again") from None
        if len(matrix) == 0:
            return []
        scores = np.asarray(matrix @ vector.astype(np.float32))
        top = np.argpartition(-scores, limit - 1)[:limit] if limit < len(scores) else np.arange(len(scores))
        rows = sorted(top.tolist(), key=lambda r: (-scores[r], r))  # rows follow claim ids: ties break by id
        ids = dict(con.execute("SELECT row, claim_id FROM vectors WHERE row IN (SELECT unnest(?))", [rows]).fetchall())
    return [Hit(ids[r], float(scores[r])) for r in rows]


def indexed_counts(index: Path) -> tuple[int, int]:
    """(claims, claims with a vector) in the index."""
    with duckdb.connect(str(index), read_only=True) as con:
        row = con.execute("SELECT (SELECT count(*) FROM claims), (SELECT count(*) FROM vectors)").fetchone()
    return int(row[0]), int(row[1])
