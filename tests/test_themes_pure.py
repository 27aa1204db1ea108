"""Theme planning on synthetic vectors: joining, discovery, leftovers, order independence."""

from __future__ import annotations

import numpy as np

from cluster.labels import keywords, label_from
from cluster.themes import ThemeOptions, plan


def _blobs(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 16))
    points = np.vstack([c + rng.normal(scale=0.08, size=(8, 16)) for c in centres])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return points, centres


def test_new_clusters_are_found_and_numbered_by_first_member() -> None:
    points, _ = _blobs()
    result = plan(points, np.zeros((0, 16), dtype=np.float32), ThemeOptions())
    assert len(result.new_clusters) == 3
    assert [members[0] for members in result.new_clusters] == [0, 8, 16]
    assert len(result.assignments) == 24


def test_claims_near_an_existing_theme_join_it() -> None:
    points, centres = _blobs()
    result = plan(points[:8], centres[:1].astype(np.float32), ThemeOptions())
    assert result.new_clusters == []
    assert {target for target, _ in result.assignments.values()} == {0}


def test_same_claims_in_another_order_give_the_same_groups() -> None:
    points, _ = _blobs()
    order = np.random.default_rng(1).permutation(len(points))
    first = plan(points, np.zeros((0, 16), dtype=np.float32), ThemeOptions())
    second = plan(points[order], np.zeros((0, 16), dtype=np.float32), ThemeOptions())
    groups_first = {frozenset(m) for m in first.new_clusters}
    groups_second = {frozenset(int(order[i]) for i in m) for m in second.new_clusters}
    assert groups_first == groups_second


def test_keywords_prefer_distinctive_phrases() -> None:
    groups = [
        ["China gives away open weights as a loss leader.", "Open weights are a loss leader for Chinese clouds."],
        ["Export controls backfire on Nvidia.", "Chinese labs answer export controls with Huawei chips."],
    ]
    first, second = keywords(groups)
    assert "loss leader" in first[:2] and "export controls" in second[:2]
    assert label_from(first).count("·") >= 1
