"""Claim extraction and embedding on a real Dask cluster (2 worker processes): the same rows as a local run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.killtest import snapshot
from flows.scaleout import BATCH_DOCUMENTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as c,
        Client(c, set_as_default=False) as client,
    ):
        yield c, client


def sample_daily(folder: Path, dask_address: str | None) -> Any:
    import sample
    from flows.daily import Mirror, RunPaths, daily
    from flows.demo import SAMPLE_DATE
    from store.db import connect
    from store.digests import add_subscriber

    paths = RunPaths(
        db=folder / "sample.duckdb", sources=sample.SOURCES, outbox=folder / "outbox", dask_address=dask_address
    )
    folder.mkdir()
    with connect(paths.db) as con:
        add_subscriber(con, "reader@example.com")
    return daily(SAMPLE_DATE, paths, Mirror(sample.BASE_URL, sample.SITE))


def next_day(folder: Path, notes: list[Path], dask_address: str | None) -> Any:
    """A second day: new documents that repeat sentences the first day embedded, and share a new one."""
    from datetime import timedelta

    from extract.fetch import HttpFetcher
    from flows.daily import RunPaths, daily
    from flows.demo import SAMPLE_DATE
    from flows.ingestion import ingest_paths
    from store.db import connect

    db = folder / "sample.duckdb"
    with HttpFetcher() as fetcher, connect(db) as con:
        assert ingest_paths(con, [str(n) for n in notes], fetcher).new_documents == len(notes)
    paths = RunPaths(db=db, sources=None, outbox=folder / "outbox", dask_address=dask_address)
    return daily(SAMPLE_DATE + timedelta(days=1), paths, None)


SHARED_NEW = "Washington is weighing new limits on the export of AI model weights to China."
NOTES = (
    "Chinese cloud providers cut the price of hosted open-weight models again this week, and American start-ups "
    "said they would move more of their inference to them.",
    "Huawei said its newest Ascend accelerators now train frontier models for three of China's largest AI labs.",
    "European regulators asked whether open-weight AI models from China should fall under the AI Act's rules for "
    "general-purpose systems.",
)


def assert_same_rows(expected_db: Path, got_db: Path) -> None:
    expected, got = snapshot(expected_db), snapshot(got_db)
    for table in expected:
        assert got[table] == expected[table], f"{table} differs between the Dask run and the local run"
    vectors = "SELECT model, text_hash, vector FROM embeddings ORDER BY ALL"
    with duckdb.connect(str(expected_db), read_only=True) as a, duckdb.connect(str(got_db), read_only=True) as b:
        assert a.execute(vectors).fetchall() == b.execute(vectors).fetchall(), "cached vectors differ"


def model_loaded() -> bool:
    embed = sys.modules.get("cluster.embed")
    return embed is not None and "base" in embed._SHARED


def test_daily_flow_on_a_local_dask_cluster_stores_the_same_rows_as_a_local_run(
    tmp_path: Path, prefect_harness: None, cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import scaleout

    local_cluster, client = cluster
    assert not any(client.run(model_loaded).values())  # nothing has embedded on the workers yet

    local = sample_daily(tmp_path / "local", None)
    on_dask = sample_daily(tmp_path / "dask", local_cluster.scheduler_address)

    assert on_dask.counts["claims_extracted"] == local.counts["claims_extracted"] > 100
    assert on_dask.counts["documents_processed"] == local.counts["documents_processed"] > 10
    assert_same_rows(tmp_path / "local" / "sample.duckdb", tmp_path / "dask" / "sample.duckdb")
    assert on_dask.rendered is not None and local.rendered is not None
    assert on_dask.rendered.markdown == local.rendered.markdown

    # Day two: three notes, each its own batch on the cluster. They repeat claims of day one (cached vectors) and
    # share a sentence new today, which a local run embeds with the first note only.
    with duckdb.connect(str(tmp_path / "local" / "sample.duckdb"), read_only=True) as con:
        known = [r[0] for r in con.execute("SELECT text FROM claims ORDER BY claim_id LIMIT 6").fetchall()]
    notes = []
    for n, own in enumerate(NOTES):
        note = tmp_path / f"analyst-note-{n}.txt"
        note.write_text(f"Analyst note {n} on AI policy.\n\n{known[2 * n]} {own} {SHARED_NEW} {known[2 * n + 1]}\n")
        notes.append(note)
    local_day2 = next_day(tmp_path / "local", notes, None)
    monkeypatch.setattr(scaleout, "BATCH_DOCUMENTS", 1)
    dask_day2 = next_day(tmp_path / "dask", notes, local_cluster.scheduler_address)
    assert dask_day2.counts["documents_processed"] == local_day2.counts["documents_processed"] == 3
    assert dask_day2.counts["claims_extracted"] == local_day2.counts["claims_extracted"] >= 6
    assert_same_rows(tmp_path / "local" / "sample.duckdb", tmp_path / "dask" / "sample.duckdb")

    # The work happened on the cluster: both worker processes ran extraction tasks and loaded the model there.
    executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    batches = -(-local.counts["documents_processed"] // BATCH_DOCUMENTS)
    assert sum(executed.values()) >= batches and all(n > 0 for n in executed.values()), executed
    assert all(client.run(model_loaded).values())


def test_a_bad_dask_address_is_one_clear_line(tmp_path: Path) -> None:
    from core.errors import UserError
    from core.settings import load_settings

    with pytest.raises(UserError, match="dask_address must be a Dask scheduler"):
        load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": "http://nowhere"}, cwd=tmp_path)
    assert load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": "10.0.0.5:8786"}, cwd=tmp_path).dask_address == (
        "tcp://10.0.0.5:8786"
    )
    assert load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": "local:3"}, cwd=tmp_path).dask_address == "local:3"
    assert load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": "dask_scheduler:8786"}, cwd=tmp_path).dask_address == (
        "tcp://dask_scheduler:8786"
    )
    for bad in ("local:0", "local:300", "tcp://host:99999", "host", "local:²"):
        with pytest.raises(UserError):
            load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": bad}, cwd=tmp_path)
    assert load_settings(environ={}, cwd=tmp_path).dask_address is None


def test_an_unreachable_scheduler_falls_back_to_local_extraction_with_a_warning(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from flows import scaleout

    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(scaleout, "CONNECT_TIMEOUT", "2s")
    result = sample_daily(tmp_path / "down", address)

    assert result.counts["claims_extracted"] > 100
    assert any(f"no Dask scheduler with workers answered at {address}" in w for w in result.warnings), result.warnings
    with duckdb.connect(str(tmp_path / "down" / "sample.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents WHERE processed_for IS NULL").fetchone() == (0,)
        stored = con.execute("SELECT warnings FROM runs").fetchone()[0]
    assert address in str(stored)
