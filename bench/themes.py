"""Theme quality on the labelled theme set (`labels/themes/themes.jsonl`).

    .venv/bin/python bench/themes.py quality      # BCubed precision/recall/F1, themes found, unthemed share

Every claim of the set is embedded with the embedding path runs use and grouped by ``cluster.themes.plan``
from scratch (no existing themes), as a first run would; BCubed counts an unthemed claim as a theme of its own.
"""

from __future__ import annotations

import argparse
import hashlib
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
TUNING_SET = ROOT / "labels" / "themes" / "tuning.jsonl"
TRAINING_SET = ROOT / "labels" / "themes" / "train.jsonl"
SPACE_FILE = ROOT / "cluster" / "theme_space.npz"
SHRINKAGE_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03)


def labels_digest(path: Path = TRAINING_SET) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()


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


def embedded(path: Path) -> tuple[np.ndarray, list[str]]:
    from cluster.embed import Embedder

    texts, labels = labelled_claims(path)
    return Embedder().encode(texts), labels


def train() -> None:
    """Learn the theme space from train.jsonl; choose its shrinkage on tuning.jsonl (BCubed F1 of a first run)."""
    from cluster import space as spaces

    vectors, labels = embedded(TRAINING_SET)
    tuning, tuning_labels = embedded(TUNING_SET)
    scored = []
    for shrinkage in SHRINKAGE_GRID:
        candidate = spaces.learn(vectors, labels, shrinkage)
        q = quality(candidate.apply(tuning), tuning_labels)
        print(f"shrinkage {shrinkage:g}: tuning BCubed F1 {q.f1:.3f} (P {q.precision:.3f} R {q.recall:.3f})")
        scored.append((round(q.f1, 3), -shrinkage))
    best = -max(scored)[1]
    meta = {"labels_digest": labels_digest(), "themes": len(set(labels)), "claims": len(labels)}
    spaces.save(spaces.learn(vectors, labels, best, meta), str(SPACE_FILE))
    print(f"chose shrinkage {best:g}; wrote {SPACE_FILE.relative_to(ROOT)}")


def report_quality(options: ThemeOptions | None = None) -> None:
    from cluster.space import default_space

    space = default_space()
    for path in (THEME_SET, TUNING_SET):
        vectors, labels = embedded(path)
        for name, mapped in (("theme space", space.apply(vectors)), ("raw MiniLM", vectors)):
            q = quality(mapped, labels, options)
            print(
                f"{path.name}: {len(labels)} claims in {len(set(labels))} themes, {name}: BCubed precision "
                f"{q.precision:.3f}, recall {q.recall:.3f}, F1 {q.f1:.3f}; {q.themes} themes found, "
                f"unthemed share {q.unthemed_share:.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("quality", "train"))
    args = parser.parse_args()
    if args.command == "train":
        train()
    else:
        report_quality()


if __name__ == "__main__":
    main()
