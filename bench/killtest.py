"""Crash safety: `kill -9` the sample run at random moments, rerun it, and compare with a clean run.

    .venv/bin/python bench/killtest.py --kills 20 --seed 1

A clean run of `undercurrent demo` makes the reference database. Then, for each kill, a fresh database: the
demo starts in a child process, is killed with SIGKILL at a random moment while the clean run's stages were
working (after start-up), and is run again to completion. The stored rows (documents, claims, themes,
assignments, daily metrics, digest and its items, deliveries, subscribers, cached vectors) must equal the
reference's; timestamps and run ids are left out (they differ by nature). Prints one line per kill and a
summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# What a run stores, without what differs by nature between two runs (timestamps, run ids).
PROJECTION = {
    "sources": "SELECT source_id, name, kind, url FROM sources",
    "documents": "SELECT document_id, source_id, content_hash, canonical_id, processed_for FROM documents",
    "segments": "SELECT count(*) FROM segments",
    "claims": "SELECT claim_id, document_id, text, same_as, claim_type, score FROM claims",
    "embeddings": "SELECT model, text_hash FROM embeddings",
    "themes": "SELECT theme_id, label, keywords, merged_into, representative_claim_id FROM themes",
    "claim_themes": "SELECT claim_id, theme_id FROM claim_themes",
    "theme_daily": "SELECT theme_id, day, claims, documents, sources FROM theme_daily",
    "theme_terms": "SELECT theme_id, term, n FROM theme_terms",
    "digests": "SELECT digest_date, subject, markdown FROM digests",
    "digest_items": "SELECT digest_date, rank, claim_id, theme_id FROM digest_items",
    "deliveries": "SELECT digest_date, subscriber_id, status, message_id FROM deliveries",
    "subscribers": "SELECT subscriber_id, email, status FROM subscribers",
    "finished runs": "SELECT status FROM runs WHERE status = 'ok' LIMIT 1",
}


def snapshot(db: Path) -> dict[str, list[str]]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {name: sorted(repr(r) for r in con.execute(sql).fetchall()) for name, sql in PROJECTION.items()}


def demo(db: Path, folder: Path) -> subprocess.Popen:
    env = dict(os.environ, UNDERCURRENT_OUTBOX=str(folder / "outbox"), PYTHONUNBUFFERED="1")
    env.pop("UNDERCURRENT_SMTP_URL", None)
    command = [sys.executable, "-m", "flows.cli", "demo", "--db", str(db), "--out", str(folder / "out")]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stage_of(db: Path) -> str:
    """Where the killed run was, from what it had stored."""
    import duckdb

    try:
        with duckdb.connect(str(db), read_only=True) as con:
            n = {
                t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("documents", "claims", "claim_themes", "digests", "deliveries")
            }
            processed = con.execute("SELECT count(*) FROM documents WHERE processed_at IS NOT NULL").fetchone()[0]
    except Exception:
        return "start-up"
    if n["deliveries"]:
        return "delivery"
    if n["digests"]:
        return "after the brief"
    if n["claim_themes"]:
        return "themes"
    if processed:
        return f"claims ({processed}/{n['documents']} documents)"
    if n["documents"]:
        return f"ingest ({n['documents']} documents)"
    return "start-up"


def kill_cycles(kills: int, seed: int, folder: Path) -> list[tuple[float, str, list[str]]]:
    """Run the kills; returns (delay, stage reached, tables that differ) per kill."""
    reference = folder / "reference.duckdb"
    start = time.perf_counter()
    assert demo(reference, folder / "reference").wait() == 0, "the clean run failed"
    duration = time.perf_counter() - start
    expected = snapshot(reference)
    # kill while the pipeline works, not while the interpreter starts: the stages' own time is in the run's counts
    import duckdb

    with duckdb.connect(str(reference), read_only=True) as con:
        counts = json.loads(con.execute("SELECT counts FROM runs").fetchone()[0])
    working = sum(v for k, v in counts.items() if k.startswith("seconds_"))
    busy_from = max(0.5, duration - working - 1.0)
    rng = random.Random(seed)
    results = []
    for k in range(kills):
        work = folder / f"kill-{k}"
        db = work / "run.duckdb"
        work.mkdir()
        delay = rng.uniform(busy_from, duration)
        child = demo(db, work)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        stage = stage_of(db)
        assert demo(db, work).wait() == 0, f"the rerun after kill {k} failed"
        got = snapshot(db)
        results.append((delay, stage, [t for t in expected if expected[t] != got[t]]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = kill_cycles(args.kills, args.seed, Path(folder))
    for k, (delay, stage, differ) in enumerate(results):
        print(
            f"kill {k + 1:2d} after {delay:5.1f} s, in {stage}: "
            + ("same rows" if not differ else f"DIFFERS: {differ}")
        )
    same = sum(not d for _, _, d in results)
    print(f"{same}/{len(results)} reruns equal the clean run ({len(PROJECTION)} tables compared)")


if __name__ == "__main__":
    main()
