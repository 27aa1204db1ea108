"""Opening the database and applying numbered migrations, each once, recorded."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from core.errors import DatabaseBusy, UserError

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every bundled migration, in order."""
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _check_path(path: Path, must_exist: bool) -> None:
    if path.is_dir():
        raise UserError(f"--db {path} is a folder; give a database file path")
    if must_exist and not path.exists():
        raise UserError(f"no database at {path}; run 'undercurrent demo' or 'undercurrent run' first")
    if not path.parent.exists():
        raise UserError(f"cannot create database {path}: folder {path.parent} does not exist")


BUSY_WAIT = 30.0  # seconds to wait for another process (the unsubscribe server, a short CLI command) to let go


def open_db(
    path: Path, read_only: bool = False, must_exist: bool = False, busy_wait: float = BUSY_WAIT
) -> duckdb.DuckDBPyConnection:
    """Open (and for writers, migrate) the database, with one-line errors for user mistakes.

    DuckDB lets one process write a file at a time: while another holds it, opening is retried with backoff
    for up to ``busy_wait`` seconds before ``DatabaseBusy``.
    """
    _check_path(path, must_exist or read_only)
    deadline, pause = time.monotonic() + busy_wait, 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise UserError(f"cannot open database {path}: {message.splitlines()[0]}") from None
            if time.monotonic() + pause > deadline:
                raise DatabaseBusy(
                    f"database {path} is in use by another Undercurrent process; try again later"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        except duckdb.Error as exc:
            raise UserError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None
    if not read_only:
        try:
            migrate(con, path)
        except duckdb.Error as exc:
            con.close()
            raise UserError(
                f"{path} is not an Undercurrent database, or one this version cannot upgrade "
                f"({str(exc).splitlines()[0]})"
            ) from None
    return con


@contextmanager
def connect(
    path: Path, read_only: bool = False, must_exist: bool = False, busy_wait: float = BUSY_WAIT
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_db(path, read_only=read_only, must_exist=must_exist, busy_wait=busy_wait)
    try:
        yield con
    finally:
        con.close()


def utc_now() -> datetime:
    """The wall clock, in UTC without zone (how every TIMESTAMP column is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any error (the error propagates)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def migrate(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> list[int]:
    """Apply pending migrations in one transaction each; returns the versions applied.

    Upgrading a database that already holds data (``path`` given), a copy of the file is kept first, beside
    it, as ``<name>.before-v<N>.bak`` (N: the first version to apply).
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    pending = [version for version, _, _ in migrations() if version not in done]
    if pending and done and path is not None:
        con.execute("CHECKPOINT")  # everything in the main file, so that a plain copy is the whole database
        shutil.copy2(path, path.with_name(f"{path.name}.before-v{pending[0]:04d}.bak"))
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utc_now()])
        applied.append(version)
    return applied
