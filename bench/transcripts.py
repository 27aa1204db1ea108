"""Benchmark: parsing and ingesting long podcast transcripts, in time and memory.

Run from the repository root (the corpus lies in ../shared beside it):

    .venv/bin/python bench/transcripts.py            # 3 runs of each measurement, medians printed
    .venv/bin/python bench/transcripts.py --repeat 5

Measures, each run in a fresh child process so that its peak memory (VmHWM) is its own:
- parse:  segments/s for the long Lex Fridman #459 episode as a Markdown transcript (~340 KB, untimed turns)
  and as YouTube auto-captions (SRT, 17,272 rolling cues);
- ingest: the Markdown episode through ``undercurrent ingest``'s code path (parse, document, near-duplicate
  fingerprint, DuckDB insert) and claim extraction, into a fresh database;
and prints how many corpus transcripts of each format parse.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "corpus"
LONG_MD = SHARED / "ai-strategy" / "long" / "lex-fridman-459-deepseek-china-export-controls.transcript.en.md"
LONG_SRT = SHARED / "transcripts" / "srt" / "lex-fridman-459-youtube-autocaptions.en.srt"


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(task: str) -> dict:
    from extract.transcripts import parse_transcript

    if task in ("parse-md", "parse-srt"):
        path, fmt = (LONG_MD, "text") if task == "parse-md" else (LONG_SRT, "srt")
        text = path.read_text(encoding="utf-8")
        started = time.perf_counter()
        segments = parse_transcript(text, fmt)
        seconds = time.perf_counter() - started
        return {"segments": len(segments), "seconds": seconds, "bytes": len(text.encode()), "peak_kib": _peak_kib()}
    from extract.fetch import HttpFetcher
    from flows.ingestion import ingest_paths
    from flows.stages import claims_stage
    from store.db import open_db

    with tempfile.TemporaryDirectory() as folder:
        con = open_db(Path(folder) / "bench.duckdb")
        started = time.perf_counter()
        with HttpFetcher() as fetcher:
            ingest_paths(con, [str(LONG_MD)], fetcher)
        counts = claims_stage(con, date(2026, 11, 21))
        seconds = time.perf_counter() - started
        segments = con.execute("SELECT count(*) FROM segments").fetchone()[0]
        con.close()
    return {"segments": segments, "claims": counts["claims_extracted"], "seconds": seconds, "peak_kib": _peak_kib()}


def formats() -> dict[str, str]:
    from extract.transcripts import detect_format, parse_transcript

    out: dict[str, list[int]] = {}
    for path in sorted((SHARED / "transcripts").glob("*/*")):
        if path.parent.name == "expected":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        fmt = detect_format(path.name.lower(), None, text)
        ok = bool(parse_transcript(text, fmt))
        out.setdefault(fmt, [0, 0])[0 if ok else 1] += 1
    return {fmt: f"{ok}/{ok + bad}" for fmt, (ok, bad) in sorted(out.items())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (medians are printed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return
    if not LONG_MD.is_file():
        sys.exit(f"the corpus is missing: expected {LONG_MD}")
    print("corpus transcripts parsed per format:", formats())
    print(f"{'measurement':<34}{'segments':>9}{'median s':>10}{'segments/s':>12}{'peak MiB':>10}")
    for task, label in (
        ("parse-md", "parse Markdown episode (340 KB)"),
        ("parse-srt", "parse auto-caption SRT"),
        ("ingest-md", "ingest + claims, Markdown episode"),
    ):
        runs = []
        for _ in range(args.repeat):
            result = subprocess.run(
                [sys.executable, __file__, "--child", task], capture_output=True, text=True, check=True
            )
            runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_kib"] for r in runs) / 1024
        segments = runs[0]["segments"]
        extra = f"  ({runs[0]['claims']} claims)" if "claims" in runs[0] else ""
        print(f"{label:<34}{segments:>9}{seconds:>10.3f}{segments / seconds:>12.0f}{peak:>10.1f}{extra}")


if __name__ == "__main__":
    main()
