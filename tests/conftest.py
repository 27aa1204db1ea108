"""Shared fixtures: offline model settings, one session-wide Prefect test harness, the sample run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared third-party corpus beside the repository (CI provides it)."""
    if not (SHARED / "corpus").is_dir():
        pytest.fail(f"the shared corpus is missing: expected it at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict:
    """The daily flow run twice on the bundled sample into a real DuckDB file, with the real model."""
    import sample
    from flows.daily import Mirror, RunPaths, daily
    from flows.demo import SAMPLE_DATE
    from store.db import connect
    from store.digests import add_subscriber

    folder = tmp_path_factory.mktemp("sample-run")
    settings = RunPaths(db=folder / "sample.duckdb", sources=sample.SOURCES, outbox=folder / "outbox")
    with connect(settings.db) as con:
        add_subscriber(con, "reader@example.com")
    mirror = Mirror(sample.BASE_URL, sample.SITE)
    first = daily(SAMPLE_DATE, settings, mirror)
    counts_after_first = table_counts(settings.db)
    contents_after_first = table_contents(settings.db)
    second = daily(SAMPLE_DATE, settings, mirror)
    counts_after_second = table_counts(settings.db)
    contents_after_second = table_contents(settings.db)
    snapshot = folder / "snapshot.duckdb"
    shutil.copy(settings.db, snapshot)
    return {
        "settings": settings,
        "first": first,
        "second": second,
        "counts_first": counts_after_first,
        "counts_second": counts_after_second,
        "contents_first": contents_after_first,
        "contents_second": contents_after_second,
        "snapshot": snapshot,
    }


def table_counts(db: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def table_contents(db: Path) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: equal dicts mean byte-for-byte equal data."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return {t: sorted(repr(row) for row in con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}


@pytest.fixture
def sample_db(sample_run: dict, tmp_path: Path) -> Path:
    """A private copy of the sample database after the runs, for tests that read or change it."""
    target = tmp_path / "copy.duckdb"
    shutil.copy(sample_run["snapshot"], target)
    return target
