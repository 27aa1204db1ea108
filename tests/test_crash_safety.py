"""Crash safety: the sample run killed with SIGKILL at random moments, then rerun, stores exactly what a clean
run stores (bench/killtest.py runs the same with 20 kills and prints each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.killtest import kill_cycles

pytestmark = pytest.mark.slow


def test_kill_minus_nine_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    results = kill_cycles(3, seed=20261122, folder=tmp_path)
    for delay, stage, differ in results:
        assert differ == [], f"killed after {delay:.1f} s in {stage}: {differ} differ from the clean run"
