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


def model_loaded() -> bool:
    embed = sys.modules.get("cluster.embed")
    return embed is not None and embed._SHARED is not None


def test_daily_flow_on_a_local_dask_cluster_stores_the_same_rows_as_a_local_run(
    tmp_path: Path, prefect_harness: None, cluster: Any
) -> None:
    local_cluster, client = cluster
    assert not any(client.run(model_loaded).values())  # nothing has embedded on the workers yet

    local = sample_daily(tmp_path / "local", None)
    on_dask = sample_daily(tmp_path / "dask", local_cluster.scheduler_address)

    assert on_dask.counts["claims_extracted"] == local.counts["claims_extracted"] > 100
    assert on_dask.counts["documents_processed"] == local.counts["documents_processed"] > 10
    expected = snapshot(tmp_path / "local" / "sample.duckdb")
    got = snapshot(tmp_path / "dask" / "sample.duckdb")
    for table in expected:
        assert got[table] == expected[table], f"{table} differs between the Dask run and the local run"
    # The work happened on the cluster: both worker processes ran extraction tasks and loaded the model there.
    executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    batches = -(-local.counts["documents_processed"] // BATCH_DOCUMENTS)
    assert sum(executed.values()) >= batches and all(n > 0 for n in executed.values()), executed
    assert all(client.run(model_loaded).values())
    assert on_dask.rendered is not None and on_dask.rendered.markdown == local.rendered.markdown


def test_a_bad_dask_address_is_one_clear_line(tmp_path: Path) -> None:
    from core.errors import UserError
    from core.settings import load_settings

    with pytest.raises(UserError, match="dask_address must be a Dask scheduler"):
        load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": "http://nowhere"}, cwd=tmp_path)
    assert load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": "10.0.0.5:8786"}, cwd=tmp_path).dask_address == (
        "tcp://10.0.0.5:8786"
    )
    assert load_settings(environ={"UNDERCURRENT_DASK_ADDRESS": "local:3"}, cwd=tmp_path).dask_address == "local:3"
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
    assert any(f"no Dask scheduler answered at {address}" in w for w in result.warnings), result.warnings
    with duckdb.connect(str(tmp_path / "down" / "sample.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents WHERE processed_for IS NULL").fetchone() == (0,)
        stored = con.execute("SELECT warnings FROM runs").fetchone()[0]
    assert address in str(stored)
