"""`undercurrent status`: the last runs, feed health, deliveries and what needs attention."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from flows.status import FeedRow, RunRow, attention

NOW = datetime(2026, 11, 22, 8, 0)


def _run(status: str = "ok", hours_ago: float = 2, **counts: object) -> RunRow:
    started = NOW - timedelta(hours=hours_ago)
    finished = None if status == "running" else started + timedelta(minutes=3)
    return RunRow(
        "r1",
        started.date(),
        started,
        finished,
        status,
        dict(counts),
        ["RuntimeError: boom"] if status == "failed" else [],
    )


def test_all_well_says_nothing() -> None:
    assert attention([_run(unthemed_share=0.2)], [FeedRow("Feed", 0, False, False, None)], {"sent": 3}, 0, NOW) == []


def test_each_problem_gets_one_line() -> None:
    runs = [_run("failed", 1), _run("running", 30), _run("ok", 50, unthemed_share=0.1)]
    feeds = [
        FeedRow("Gone", 0, True, False, None),
        FeedRow("Broken", 4, False, False, "HTTP 503"),
        FeedRow("Silent", 0, False, True, None),
        FeedRow("Fine", 1, False, False, "timeout"),  # one failure is not yet a problem
    ]
    notes = attention(runs, feeds, {"unknown": 2, "bounced": 1, "sent": 9}, 3, NOW)
    text = "\n".join(notes)
    assert notes[0].startswith("the last run") and "RuntimeError: boom" in notes[0]
    assert "never finished" in text and "no successful run since" in text
    assert "'Gone' is gone" in text and "'Broken' failed 4 times" in text and "HTTP 503" in text
    assert "'Silent' has gone quiet" in text and "Fine" not in text
    assert "2 deliveries" in text and "1 deliveries in the last 7 days bounced" in text
    assert "3 unsubscribes wait" in text
    assert attention([_run(unthemed_share=0.7)], [], {}, 0, NOW) == ["70% of the last run's new claims joined no theme"]
    assert attention([], [], {}, 0, NOW)[0].startswith("no run yet")


@pytest.mark.slow
def test_status_on_the_sample(sample_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["status", "--db", str(sample_db)]) == 0
    out = capsys.readouterr().out
    assert "2026-11-21" in out and "ok" in out and "feeds: 6 (6 healthy" in out
    assert "took" in out
    con = duckdb.connect(str(sample_db))
    con.execute("UPDATE runs SET status = 'failed', errors = '[\"OSError: disk full\"]'")
    con.close()
    assert main(["status", "--db", str(sample_db), "--check"]) == 1
    out = capsys.readouterr().out
    assert "needs attention:" in out and "OSError: disk full" in out
