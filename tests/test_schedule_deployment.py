"""`undercurrent serve`'s deployment against a real Prefect API (the test harness's server): registered with the
configured schedule, and one run of it, created through the API and executed by Prefect's runner, completes."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import load_settings
from flows.schedule import DEPLOYMENT, deployment
from store.db import open_db

pytestmark = pytest.mark.slow


def test_the_deployment_has_the_schedule_and_a_triggered_run_completes(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.runner import Runner

    db = tmp_path / "served.duckdb"
    open_db(db).close()
    settings = load_settings(
        environ={"UNDERCURRENT_SCHEDULE_CRON": "30 5 * * 1-5", "UNDERCURRENT_SCHEDULE_TIMEZONE": "Europe/London"},
        db=db,
        outbox=tmp_path / "outbox",
    )
    deployment_id = deployment(settings).apply()
    with get_client(sync_client=True) as client:
        registered = client.read_deployment(deployment_id)
        assert registered.name == DEPLOYMENT
        (schedule,) = registered.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
            "30 5 * * 1-5",
            "Europe/London",
            True,
        )
        assert registered.parameters["db"] == str(db.resolve())
    # one run now, through the API, executed by Prefect's runner in a process of its own
    flow_run = run_deployment(f"daily-scheduled/{DEPLOYMENT}", timeout=0)
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    import anyio

    async def execute() -> None:
        async with Runner() as runner:
            await runner.execute_flow_run(flow_run.id)

    anyio.run(execute)
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(flow_run.id)
    assert finished.state is not None and finished.state.is_completed(), finished.state
    with open_db(db) as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("ok",)]
