"""How the brief's selection scored every theme on a date: the parts of each score and the place it got.

.venv/bin/python bench/brief.py --db undercurrent-demo.duckdb --date 2026-11-21
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    from digest.select import explain
    from flows.stages import selection_inputs
    from store import digests as digeststore
    from store.db import open_db

    con = open_db(args.db, must_exist=True)  # brings an older file's schema up to date first
    rows = explain(*selection_inputs(con, args.date), digeststore.featured_claims(con, args.date))
    print(
        f"{'place':>5} {'theme':>5} {'score':>6} {'ideas':>5} {'sources':>7} {'days':>4} {'quality':>7} momentum  label"
    )
    for t in rows:
        momentum = f"{t.momentum:.2f}" if t.momentum is not None else "-"
        place = str(t.chosen_rank) if t.chosen_rank else ""
        print(
            f"{place:>5} {t.theme_id:>5} {t.score:6.2f} {t.new_ideas:5d} {t.sources:7d} {t.days:4d} {t.quality:7.2f} "
            f"{momentum:>8}  {t.label}"
        )


if __name__ == "__main__":
    main()
