"""The claim classifier's trained weights and how they score a candidate (pure numpy, no training code).

``claim_weights.json`` is written by ``bench/claims.py train`` from the labelled set in ``labels/claims/``
(train split only) and shipped with the package. It holds two logistic-regression heads for claim / not claim:
``full`` (hashed lexical features plus the sentence embedding) and ``lexical`` (the same without the embedding,
used when no embedding model is at hand), each with a decision threshold per document kind; and a multinomial
head for the claim type over the lexical features.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

WEIGHTS_FILE = "claim_weights.json"
CLAIM_TYPES = ("fact", "forecast", "recommendation", "thesis")


@dataclass(frozen=True)
class Head:
    bias: float
    lexical: dict[int, float]
    embedding: np.ndarray | None  # weights for the embedding, or None for the lexical head
    thresholds: dict[str, float]  # decision threshold per document kind (article, transcript)

    def threshold(self, kind: str) -> float:
        return self.thresholds.get(kind, max(self.thresholds.values()))

    def probability(self, features: dict[int, float], vector: np.ndarray | None, scale: float) -> float:
        z = self.bias + sum(self.lexical.get(i, 0.0) * v for i, v in features.items())
        if self.embedding is not None and vector is not None:
            z += float(np.dot(self.embedding, vector)) * scale
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


@dataclass(frozen=True)
class ClaimModel:
    full: Head
    lexical: Head
    embedding_scale: float
    embedding_model: str
    types: tuple[str, ...]
    type_bias: np.ndarray
    type_weights: dict[int, np.ndarray]
    labels_digest: str

    def claim_probability(
        self, features: dict[int, float], vector: np.ndarray | None, kind: str = "article"
    ) -> tuple[float, bool]:
        """(probability, accepted) from the full head when a vector is given, else the lexical head."""
        head = self.full if vector is not None else self.lexical
        p = head.probability(features, vector, self.embedding_scale)
        return p, p >= head.threshold(kind)

    def claim_type(self, features: dict[int, float]) -> str:
        scores = self.type_bias.copy()
        for index, value in features.items():
            weights = self.type_weights.get(index)
            if weights is not None:
                scores += weights * value
        return self.types[int(np.argmax(scores))]


def _head(data: dict[str, Any]) -> Head:
    embedding = data.get("embedding")
    return Head(
        float(data["bias"]),
        {int(k): float(v) for k, v in data["lexical"].items()},
        np.asarray(embedding, dtype=np.float32) if embedding is not None else None,
        {str(k): float(v) for k, v in data["thresholds"].items()},
    )


def model_from_dict(data: dict[str, Any]) -> ClaimModel:
    types = data["type"]
    return ClaimModel(
        full=_head(data["claim"]["full"]),
        lexical=_head(data["claim"]["lexical"]),
        embedding_scale=float(data["embedding_scale"]),
        embedding_model=str(data["embedding_model"]),
        types=tuple(types["classes"]),
        type_bias=np.asarray(types["bias"], dtype=np.float64),
        type_weights={int(k): np.asarray(v, dtype=np.float64) for k, v in types["lexical"].items()},
        labels_digest=str(data["labels_digest"]),
    )


@lru_cache(maxsize=1)
def default_model() -> ClaimModel:
    """The shipped model (loaded once per process)."""
    text = resources.files("extract").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return model_from_dict(json.loads(text))
