"""Theme discovery and assignment over normalised claim vectors (pure, deterministic)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ThemeOptions:
    min_cluster_size: int = 3
    min_samples: int = 2
    join_threshold: float = 0.55  # cosine to a theme centroid for a claim to join it
    selection: str = "leaf"
    retry_days: int = 30  # unthemed claims get another chance on later runs for this many days


def centroid(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm else mean).astype(np.float32)


def assign(vectors: np.ndarray, centroids: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centroid per vector (-1 when below threshold) and its cosine."""
    if len(vectors) == 0 or len(centroids) == 0:
        return np.full(len(vectors), -1), np.zeros(len(vectors))
    sims = vectors @ centroids.T
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(vectors)), best]
    return np.where(best_sim >= threshold, best, -1), best_sim


def canonical_order(vectors: np.ndarray) -> np.ndarray:
    """A permutation that depends on the vectors alone, not on the order they came in (ties: equal vectors)."""
    keys = [hashlib.blake2b(np.round(row, 5).astype(np.float32).tobytes(), digest_size=16).digest() for row in vectors]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=int)


def discover(vectors: np.ndarray, options: ThemeOptions) -> np.ndarray:
    """HDBSCAN cluster labels (-1 for noise), the same for the same vectors in any order: clustering runs in
    the vectors' canonical order and clusters are numbered by their first member in that order."""
    if len(vectors) < max(options.min_cluster_size, 2) + 1:
        return np.full(len(vectors), -1)
    import hdbscan

    order = canonical_order(vectors)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=options.min_cluster_size,
        min_samples=options.min_samples,
        metric="euclidean",
        cluster_selection_method=options.selection,
        core_dist_n_jobs=1,
    )
    canonical = _relabel_by_first_member(clusterer.fit_predict(vectors[order].astype(np.float64)))
    labels = np.full(len(vectors), -1)
    labels[order] = canonical
    return labels


def _relabel_by_first_member(labels: np.ndarray) -> np.ndarray:
    """Number clusters by the position of their first member, so labels do not depend on HDBSCAN internals."""
    mapping: dict[int, int] = {}
    out = np.full(len(labels), -1)
    for index, label in enumerate(labels):
        if label < 0:
            continue
        out[index] = mapping.setdefault(int(label), len(mapping))
    return out


@dataclass(frozen=True)
class ThemePlan:
    """What to do with a batch of unthemed claims (indices into the batch).

    ``assignments`` maps a claim to a target theme: targets below ``len(existing)`` are existing themes (by
    position), the rest are ``new_clusters`` (target - len(existing)). Claims in neither stay unthemed.
    """

    assignments: dict[int, tuple[int, float]]
    new_clusters: list[list[int]]
    new_centroids: list[np.ndarray]


def plan(vectors: np.ndarray, existing: np.ndarray, options: ThemeOptions) -> ThemePlan:
    """Join claims close to an existing theme; cluster the rest; then let leftovers join any close theme."""
    canonical_rank = np.empty(len(vectors), dtype=int)
    canonical_rank[canonical_order(vectors)] = np.arange(len(vectors))
    nearest, sims = assign(vectors, existing, options.join_threshold)
    assignments = {i: (int(t), float(sims[i])) for i, t in enumerate(nearest) if t >= 0}
    rest = [i for i in range(len(vectors)) if i not in assignments]
    labels = discover(vectors[rest], options) if rest else np.array([], dtype=int)
    clusters = [[rest[j] for j in np.flatnonzero(labels == label)] for label in sorted(set(labels.tolist()) - {-1})]
    # centroids from members in canonical order, so that float sums do not depend on the input order
    clusters = [sorted(members, key=lambda i: canonical_rank[i]) for members in clusters] if clusters else clusters
    centroids = [centroid(vectors[members]) for members in clusters]
    for number, (members, middle) in enumerate(zip(clusters, centroids, strict=True)):
        for i in members:
            assignments[i] = (len(existing) + number, float(vectors[i] @ middle))
    leftovers = [i for i in rest if i not in assignments]
    if leftovers and (len(existing) or centroids):
        every = np.vstack([existing.reshape(-1, vectors.shape[1]), *[c[None, :] for c in centroids]])
        late, late_sims = assign(vectors[leftovers], every, options.join_threshold)
        for i, target, sim in zip(leftovers, late, late_sims, strict=True):
            if target >= 0:
                assignments[i] = (int(target), float(sim))
    return ThemePlan(assignments, clusters, centroids)


@dataclass(frozen=True)
class Remap:
    """How a full re-clustering maps onto the themes that exist, without renumbering them.

    ``assign`` gives the theme each moved claim now belongs to: an existing id, or ``-(k + 1)`` for the k-th of
    ``new_themes`` (ids to be allocated). ``merges`` are whole themes absorbed into another (old, new);
    ``splits`` are (old, new, claims) parts of a theme that now belong elsewhere, ``new`` possibly a placeholder.
    Claims the clustering leaves as noise keep their theme.
    """

    assign: dict[int, int]
    merges: list[tuple[int, int]]
    splits: list[tuple[int, int, int]]
    new_themes: int


def remap(current: list[int | None], labels: np.ndarray) -> Remap:
    """Map clusters (``labels``, -1 noise) onto current themes (``current``, None unthemed), deterministically."""
    from collections import Counter

    clusters = sorted(set(labels.tolist()) - {-1})
    members = {c: np.flatnonzero(labels == c).tolist() for c in clusters}
    per_cluster = {c: Counter(current[i] for i in members[c] if current[i] is not None) for c in clusters}
    primary: dict[int, int] = {}  # theme -> the cluster holding most of its claims
    for theme in sorted({t for t in current if t is not None}):
        holding = [(per_cluster[c][theme], -c) for c in clusters if per_cluster[c][theme]]
        if holding:
            primary[theme] = -max(holding)[1]
    assign: dict[int, int] = {}
    merges: list[tuple[int, int]] = []
    splits: Counter[tuple[int, int]] = Counter()
    new_themes = 0
    for c in clusters:
        owners = sorted((t for t, p in primary.items() if p == c), key=lambda t: (-per_cluster[c][t], t))
        if owners:
            target = owners[0]
            merges += [(t, target) for t in owners[1:]]
        else:
            new_themes += 1
            target = -new_themes
        absorbed = set(owners)
        for i in members[c]:
            theme = current[i]
            if theme == target or theme in absorbed:
                continue  # already there, or comes along with its whole theme
            assign[i] = target
            if theme is not None:
                splits[(theme, target)] += 1
    return Remap(assign, merges, sorted((o, n, k) for (o, n), k in splits.items()), new_themes)
