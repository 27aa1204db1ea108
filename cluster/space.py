"""The theme space: sentence vectors re-weighted so that distance follows the idea a claim makes (pure).

MiniLM places claims by surface topic: every claim here is about China, the US and AI, and two claims naming the
same labs sit close whatever they argue. The theme space undoes part of that with a linear map learned from
labelled groups of paraphrases (``labels/themes/train.jsonl``): vectors are centred on the domain's mean and
whitened against the spread *within* a theme (within-class covariance normalisation), so that directions in which
paraphrases of one idea differ (who is named, spoken or written style, hedging) count for less, and the rest
for more. Vectors are normalised again afterwards; cosine in the theme space is what clustering uses.

The map ships as ``theme_space.npz`` next to this module, with the digest of the labels it was learned from.
``bench/themes.py train`` rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ThemeSpace:
    mean: np.ndarray  # (d,)
    projection: np.ndarray  # (d, d)
    meta: dict[str, Any]

    @cached_property
    def name(self) -> str:
        """Short id of this map: stored with theme centroids, so centroids from another map are recomputed."""
        digest = hashlib.blake2b(self.projection.tobytes(), digest_size=6)
        digest.update(self.mean.tobytes())
        return f"wccn-{digest.hexdigest()}"

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors in the theme space, unit length (float32)."""
        if len(vectors) == 0:
            return np.zeros((0, self.projection.shape[1]), dtype=np.float32)
        mapped = (vectors.astype(np.float32) - self.mean) @ self.projection
        norms = np.linalg.norm(mapped, axis=1, keepdims=True)
        return (mapped / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def learn(vectors: np.ndarray, labels: list[str], shrinkage: float, meta: dict[str, Any] | None = None) -> ThemeSpace:
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
    return ThemeSpace(mean.astype(np.float32), projection.astype(np.float32), dict(meta or {}, shrinkage=shrinkage))


def save(space: ThemeSpace, path: str) -> None:
    np.savez_compressed(path, mean=space.mean, projection=space.projection, meta=np.array(json.dumps(space.meta)))


def load(source: Any) -> ThemeSpace:
    with np.load(source, allow_pickle=False) as data:
        return ThemeSpace(data["mean"], data["projection"], json.loads(str(data["meta"])))


@lru_cache(maxsize=1)
def default_space() -> ThemeSpace:
    with resources.files("cluster").joinpath("theme_space.npz").open("rb") as handle:
        return load(handle)
