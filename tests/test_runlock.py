"""Overlapping runs: a second run while one holds the database does nothing, says so, and exits 75."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from flows.runlock import EXIT_RUN_IN_PROGRESS, RunInProgress, run_lock
from tests.conftest import table_contents

HOLD = """
import sys, time
from pathlib import Path
from flows.runlock import run_lock
with run_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def _hold(db: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1]
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_does_nothing_and_says_why(
    tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNDERCURRENT_SOURCES", raising=False)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "run.duckdb"
    seed = sorted((shared / "seeds").glob("*.txt"))[0]
    assert main(["ingest", str(seed), "--db", str(db)]) == 0
    before = table_contents(db)
    holder = _hold(db)
    try:
        capsys.readouterr()
        code = main(["run", "--date", "2026-11-21", "--db", str(db)])
        _, err = capsys.readouterr()
    finally:
        holder.kill()
        holder.wait()
    assert code == EXIT_RUN_IN_PROGRESS
    assert err.count("\n") == 1 and "another run is in progress" in err and f"pid {holder.pid}" in err
    assert "Traceback" not in err and "lock" not in err.lower().replace("run-lock", "")
    assert table_contents(db) == before  # not one row added or changed


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    holder = _hold(db)
    with pytest.raises(RunInProgress):
        with run_lock(db):
            pass
    holder.kill()  # kill -9: no cleanup runs, and no stale lock is left
    holder.wait()
    with run_lock(db):
        pass


def test_a_scheduled_flow_run_meets_the_same_lock(tmp_path: Path, prefect_harness: None) -> None:
    from datetime import date

    from flows.daily import RunPaths, daily
    from store.db import open_db

    db = tmp_path / "flow.duckdb"
    open_db(db).close()
    before = table_contents(db)
    holder = _hold(db)
    try:
        with pytest.raises(RunInProgress):
            daily(date(2026, 11, 21), RunPaths(db, None, tmp_path / "outbox"))
    finally:
        holder.kill()
        holder.wait()
    assert table_contents(db) == before  # no runs row, nothing else
