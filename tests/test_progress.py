"""Long work reports its progress (the CLI shows it as bars on a terminal)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cluster.embed import shared_embedder
from flows import progress
from flows.cli import main
from flows.stages import claims_stage, vectors_for
from store.db import open_db


def test_claims_and_embedding_report_progress_to_the_end(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "p.duckdb"
    for seed in sorted((shared / "seeds").glob("*.txt"))[:2]:
        assert main(["ingest", str(seed), "--db", str(db)]) == 0
    events: list[tuple[str, int, int]] = []
    con = open_db(db)
    with progress.reporting(lambda *event: events.append(event)):
        claims_stage(con, date(2026, 11, 21), shared_embedder())
        vectors_for(con, shared_embedder(), [f"Sentence number {i} about chips." for i in range(5)])
    con.close()
    claims = [e for e in events if e[0] == "claims"]
    assert [done for _, done, _ in claims] == list(range(1, len(claims) + 1)) and claims[-1][1] == claims[-1][2] == 2
    assert ("embedding", 5, 5) in events
    progress.report("claims", 1, 1)  # outside a reporting block: nothing happens, nothing fails


def test_bars_draw_on_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.on_terminal():  # pytest's stderr is not a terminal: no bars, no output
        progress.report("claims", 1, 2)
    assert capsys.readouterr().err == ""
    with progress.bars():
        progress.report("claims", 1, 2)
        progress.report("claims", 2, 2)
    assert progress._reporter is None  # the bars are gone with the block
