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


def test_new_clusters_are_found() -> None:
    points, _ = _blobs()
    result = plan(points, np.zeros((0, 16), dtype=np.float32), ThemeOptions())
    assert len(result.new_clusters) == 3
    assert sorted(sorted(members) for members in result.new_clusters) == [
        list(range(0, 8)),
        list(range(8, 16)),
        list(range(16, 24)),
    ]
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


def test_momentum_compares_the_day_with_the_weeks_before_and_never_the_future() -> None:
    from cluster.metrics import DayCounts, day_metrics

    today = {1: DayCounts(6, 4, 3, 5, 2), 2: DayCounts(2, 2, 2, 0, 2), 3: DayCounts(2, 1, 1, 2, 0)}
    history = {1: 10, 2: 30}  # theme 3 is new: nothing in the window
    metrics = {m.theme_id: m for m in day_metrics(today, history, 40)}
    assert metrics[1].share == 0.6 and metrics[1].baseline == 0.25
    assert metrics[1].momentum is not None and metrics[1].momentum > 2  # rising
    assert metrics[2].momentum is not None and metrics[2].momentum < 1  # fading
    assert metrics[3].baseline == 0.0 and metrics[3].momentum is not None and metrics[3].momentum > 10
    assert sum(m.share for m in metrics.values()) == 1.0
    # no history at all: no baseline, no momentum
    assert all(m.momentum is None for m in day_metrics(today, {}, 0))


def test_the_same_claims_in_any_order_give_the_same_themes() -> None:
    import numpy as np

    from cluster.themes import ThemeOptions, plan

    rng = np.random.default_rng(11)
    centres = rng.normal(size=(4, 384))
    vectors = np.vstack([c + rng.normal(scale=0.04, size=(12, 384)) for c in centres] + [rng.normal(size=(6, 384))])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    existing = np.zeros((0, 384), dtype=np.float32)
    first = plan(vectors, existing, ThemeOptions())
    assert len(first.new_clusters) == 4
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(vectors))
        again = plan(vectors[order], existing, ThemeOptions())
        # the same partition, numbered the same, with the same centroids
        back = {int(order[i]): target for i, (target, _) in again.assignments.items()}
        assert back == {i: target for i, (target, _) in first.assignments.items()}
        for a, b in zip(first.new_centroids, again.new_centroids, strict=True):
            assert np.allclose(a, b, atol=1e-6)


def test_bcubed_scores_partitions() -> None:
    from cluster.metrics import bcubed

    truth = ["a", "a", "a", "b", "b"]
    assert bcubed(truth, [0, 0, 0, 1, 1]) == (1.0, 1.0, 1.0)
    precision, recall, _ = bcubed(truth, [0, 0, 0, 0, 0])  # everything lumped
    assert recall == 1.0 and precision < 0.6
    precision, recall, _ = bcubed(truth, [-1, -1, -1, -1, -1])  # nothing themed
    assert precision == 1.0 and recall < 0.5


def test_reclustering_maps_onto_existing_ids_with_merges_splits_and_new_themes() -> None:
    import numpy as np

    from cluster.themes import remap

    # themes 7 and 9 now form one cluster (merge); theme 4 divides between clusters 1 and 2 (split);
    # cluster 3 is new; claim 11 is noise and keeps its theme; claim 12 was unthemed and joins cluster 0
    current = [7, 7, 7, 9, 9, 4, 4, 4, 4, 4, None, 4, None]
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, -1, 0])
    result = remap(current, labels)
    assert result.merges == [(9, 7)]
    assert result.new_themes == 2  # cluster 2 (the part split off theme 4) and cluster 3
    assert result.assign == {12: 7, 8: -1, 9: -1, 10: -2}
    assert result.splits == [(4, -1, 2)]
    # nothing changes when the clustering agrees with the themes
    same = remap([1, 1, 2, 2], np.array([0, 0, 1, 1]))
    assert same.assign == {} and same.merges == [] and same.splits == [] and same.new_themes == 0
