"""Theme discovery and assignment over normalised claim vectors (pure, deterministic)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ThemeOptions:
    min_cluster_size: int = 3
    min_samples: int = 2
    join_threshold: float = 0.6  # cosine to a theme centroid for a new claim to join it
    selection: str = "leaf"


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


def discover(vectors: np.ndarray, options: ThemeOptions) -> np.ndarray:
    """HDBSCAN cluster labels (-1 for noise). Callers pass vectors in a canonical order."""
    if len(vectors) < max(options.min_cluster_size, 2) + 1:
        return np.full(len(vectors), -1)
    import hdbscan

    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=options.min_cluster_size,
        min_samples=options.min_samples,
        metric="euclidean",
        cluster_selection_method=options.selection,
        core_dist_n_jobs=1,
    )
    labels = clusterer.fit_predict(vectors.astype(np.float64))
    return _relabel_by_first_member(labels)


def _relabel_by_first_member(labels: np.ndarray) -> np.ndarray:
    """Number clusters by the position of their first member, so labels do not depend on HDBSCAN internals."""
    mapping: dict[int, int] = {}
    out = np.full(len(labels), -1)
    for index, label in enumerate(labels):
        if label < 0:
            continue
        out[index] = mapping.setdefault(int(label), len(mapping))
    return out
