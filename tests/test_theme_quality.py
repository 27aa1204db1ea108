"""Theme quality on the labelled theme sets, with the real embedding model and the shipped theme space.

``labels/themes/themes.jsonl`` is the evaluation set (never used to learn or choose anything);
``tuning.jsonl`` chose the clusterer's settings and the space's shrinkage; ``train.jsonl`` and ``families.jsonl``
taught the theme encoder's adapter, and ``train.jsonl`` the space.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench.themes import THEME_SET, TUNING_SET, grouping, labelled_claims, labels_digest, quality
from cluster.embed import Embedder, theme_embedder
from cluster.space import default_space

# Floors, pinned: lowering one needs a reason in the commit that does it.
# The tuning floor was 0.95 while equal HDBSCAN edge weights were broken by listing order: a change of 1e-6 in
# the vectors then moved tuning between 0.926 and 0.962 (mean 0.942) and evaluation between 0.787 and 0.802.
# With ties broken by distance both stay put under such changes (0.937 and 0.802), so the floors now sit on a
# stable figure rather than on a lucky draw.
EVAL_F1 = 0.80
TUNING_F1 = 0.93


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return theme_embedder()


@pytest.fixture(scope="module")
def evaluation(embedder: Embedder) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    texts, labels = labelled_claims(THEME_SET)
    raw = Embedder().encode(texts)  # plain MiniLM, for comparison
    return texts, labels, raw, default_space().apply(embedder.encode(texts))


def test_the_shipped_space_was_learned_from_the_current_labels() -> None:
    assert default_space().meta["labels_digest"] == labels_digest(), "run: python bench/themes.py train"


def test_bcubed_floor_on_the_evaluation_set(evaluation: tuple) -> None:
    _, labels, raw, mapped = evaluation
    ours = quality(mapped, labels)
    assert ours.f1 >= EVAL_F1, ours
    assert ours.unthemed_share <= 0.15
    # the theme encoder and space are what lift it: MiniLM vectors alone group by topic (0.53 when measured)
    assert ours.f1 >= quality(raw, labels).f1 + 0.2


def test_bcubed_floor_on_the_tuning_set(embedder: Embedder) -> None:
    texts, labels = labelled_claims(TUNING_SET)
    result = quality(default_space().apply(embedder.encode(texts)), labels)
    assert result.f1 >= TUNING_F1, result


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def test_syndicated_copies_and_identical_claims_share_a_theme(evaluation: tuple) -> None:
    texts, labels, _, mapped = evaluation
    # each labelled theme holds a near-copy of one of its claims, as syndication produces
    copies = [
        (i, j)
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if labels[i] == labels[j]
        and len(_words(texts[i]) & _words(texts[j])) / len(_words(texts[i]) | _words(texts[j])) >= 0.6
    ]
    assert len(copies) >= 20
    # identical claims: every claim a second time, at the end
    doubled = np.vstack([mapped, mapped])
    targets = grouping(doubled)
    n = len(texts)
    assert all(targets[i] == targets[i + n] for i in range(n))
    alone = grouping(mapped)
    assert all(alone[i] == alone[j] and alone[i] >= 0 for i, j in copies)


def test_a_shuffled_order_gives_the_same_themes(evaluation: tuple) -> None:
    _, _, _, mapped = evaluation
    first = grouping(mapped)
    for seed in (1, 2):
        order = np.random.default_rng(seed).permutation(len(mapped))
        again = grouping(mapped[order])
        assert [again[k] for k in np.argsort(order)] == first


def _partition(targets: list[int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, target in enumerate(targets):
        groups.setdefault(target if target >= 0 else -1 - i, set()).add(i)
    return {frozenset(members) for members in groups.values()}


def test_rounding_differences_do_not_change_the_themes(evaluation: tuple) -> None:
    # Another CPU, thread count or embedding path moves vectors by about 1e-6; the themes must not move with them.
    _, _, _, mapped = evaluation
    first = _partition(grouping(mapped))
    for seed in (1, 2, 3):
        nudged = mapped + np.random.default_rng(seed).normal(scale=1e-6, size=mapped.shape)
        nudged = (nudged / np.linalg.norm(nudged, axis=1, keepdims=True)).astype(np.float32)
        assert _partition(grouping(nudged)) == first
