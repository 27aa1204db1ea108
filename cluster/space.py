"""The theme space: sentence vectors re-weighted so that distance follows the idea a claim makes (pure).

MiniLM places claims by surface topic: every claim here is about China, the US and AI, and two claims naming the
same labs sit close whatever they argue. The theme space undoes part of that with a linear map learned from
labelled groups of paraphrases (``labels/themes/train.jsonl``): vectors are centred on the domain's mean and
whitened against the spread *within* a theme (within-class covariance normalisation), so that directions in which
paraphrases of one idea differ (who is named, spoken or written style, hedging) count for less, and the rest
for more. Vectors are normalised again afterwards; cosine in the theme space is what clustering uses.

Since the theme encoder (``cluster.adapter``) the vectors mapped are the adapted network's, not plain MiniLM's:
the adapter ships in the same file as the map learned over its vectors, and the space's ``name`` covers both, so
a change of either recomputes stored centroids.

The file is ``theme_space.npz`` next to this module, with the digest of the labels it was learned from.
``bench/themes.py train`` rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

import numpy as np

from cluster.adapter import Adapter, digest


@dataclass(frozen=True)
class ThemeSpace:
    mean: np.ndarray  # (d,)
    projection: np.ndarray  # (d, d)
    meta: dict[str, Any]
    adapter: Adapter = field(default_factory=dict)  # the theme encoder's (empty: plain MiniLM vectors)

    @cached_property
    def name(self) -> str:
        """Short id of this map: stored with theme centroids, so centroids from another map are recomputed."""
        hasher = hashlib.blake2b(self.projection.tobytes(), digest_size=6)
        hasher.update(self.mean.tobytes())
        if self.adapter_digest:
            hasher.update(self.adapter_digest.encode())
        return f"wccn-{hasher.hexdigest()}"

    @cached_property
    def adapter_digest(self) -> str | None:
        """Which theme encoder the map was learned over (None: plain MiniLM)."""
        return digest(self.adapter) if self.adapter else None

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors in the theme space, unit length (float32)."""
        if len(vectors) == 0:
            return np.zeros((0, self.projection.shape[1]), dtype=np.float32)
        mapped = (vectors.astype(np.float32) - self.mean) @ self.projection
        norms = np.linalg.norm(mapped, axis=1, keepdims=True)
        return (mapped / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def learn(
    vectors: np.ndarray,
    labels: list[str],
    shrinkage: float,
    meta: dict[str, Any] | None = None,
    adapter: Adapter | None = None,
) -> ThemeSpace:
    """Within-class covariance normalisation: whiten against the scatter of claims around their theme's mean.

    ``shrinkage`` is added to the covariance's diagonal (a ridge), which keeps rare directions from being blown
    up by the inverse square root.
    """
    array = np.asarray(labels)
    mean = vectors.mean(axis=0)
    deviations = np.vstack([vectors[array == t] - vectors[array == t].mean(axis=0) for t in sorted(set(labels))])
    within = deviations.T @ deviations / len(deviations)
    values, basis = np.linalg.eigh(within + shrinkage * np.eye(vectors.shape[1]))
    projection = (basis * values**-0.5) @ basis.T
    return ThemeSpace(
        mean.astype(np.float32),
        projection.astype(np.float32),
        dict(meta or {}, shrinkage=shrinkage),
        dict(adapter or {}),
    )


ADAPTER_PREFIX = "adapter/"


def save(space: ThemeSpace, path: str) -> None:
    adapter = {ADAPTER_PREFIX + key: value for key, value in space.adapter.items()}
    np.savez_compressed(
        path, mean=space.mean, projection=space.projection, meta=np.array(json.dumps(space.meta)), **adapter
    )


def load(source: Any) -> ThemeSpace:
    with np.load(source, allow_pickle=False) as data:
        adapter = {key[len(ADAPTER_PREFIX) :]: data[key] for key in data.files if key.startswith(ADAPTER_PREFIX)}
        return ThemeSpace(data["mean"], data["projection"], json.loads(str(data["meta"])), adapter)


@lru_cache(maxsize=1)
def default_space() -> ThemeSpace:
    with resources.files("cluster").joinpath("theme_space.npz").open("rb") as handle:
        return load(handle)
