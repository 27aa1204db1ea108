"""Theme quality on the labelled theme set (`labels/themes/themes.jsonl`).

    .venv/bin/python bench/themes.py quality      # BCubed precision/recall/F1, themes found, unthemed share

Every claim of the set is embedded with the embedding path runs use and grouped by ``cluster.themes.plan``
from scratch (no existing themes), as a first run would; BCubed counts an unthemed claim as a theme of its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cluster.metrics import bcubed  # noqa: E402
from cluster.themes import ThemeOptions, plan  # noqa: E402

THEME_SET = ROOT / "labels" / "themes" / "themes.jsonl"


def labelled_claims(path: Path = THEME_SET) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            texts += item["claims"]
            labels += [item["theme"]] * len(item["claims"])
    return texts, labels


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    f1: float
    themes: int
    unthemed_share: float


def grouping(vectors: np.ndarray, options: ThemeOptions | None = None) -> list[int]:
    """The theme each claim lands in (-1: unthemed) when all of them arrive on one day."""
    result = plan(vectors, np.zeros((0, vectors.shape[1]), dtype=np.float32), options or ThemeOptions())
    targets = [-1] * len(vectors)
    for i, (target, _) in result.assignments.items():
        targets[i] = target
    return targets


def quality(vectors: np.ndarray, labels: list[str], options: ThemeOptions | None = None) -> Quality:
    targets = grouping(vectors, options)
    precision, recall, f1 = bcubed(labels, targets)
    themes = len({t for t in targets if t >= 0})
    return Quality(precision, recall, f1, themes, sum(t < 0 for t in targets) / len(targets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("quality",))
    parser.parse_args()
    from cluster.embed import Embedder

    texts, labels = labelled_claims()
    embedder = Embedder()
    vectors = embedder.encode(texts)
    q = quality(vectors, labels)
    print(
        f"{len(texts)} claims in {len(set(labels))} labelled themes ({embedder.name}): BCubed precision "
        f"{q.precision:.3f}, recall {q.recall:.3f}, F1 {q.f1:.3f}; {q.themes} themes found, "
        f"unthemed share {q.unthemed_share:.2f}"
    )


if __name__ == "__main__":
    main()
