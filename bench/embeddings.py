"""Embedding throughput: Undercurrent's path against plain sentence-transformers on the same sentences.

    .venv/bin/python bench/embeddings.py                    # CPU: 5,000 sentences, 3 runs each, medians
    .venv/bin/python bench/embeddings.py --sentences 50000 --repeat 3 --device cuda   # on a GPU machine

The sentences are those of the real corpus documents in ../shared when present (else the bundled sample
corpus), cycled with a counter so that every one is distinct, at their natural mix of lengths. "plain" is
``SentenceTransformer(model).encode(texts, normalize_embeddings=True)`` with its defaults; "ours" is
``cluster.embed.Embedder`` (CPU: the int8 ONNX path when it agrees with plain; GPU: fp16, length-sorted big
batches). Both are warmed up first; the ratio is of medians measured in the same run, and the mean cosine is
between the two paths' vectors for the same sentences.

Then the theme encoder (``cluster.embed.theme_embedder``: MiniLM with the theme adapter merged, fp32 ONNX on a
CPU), which embeds each new claim once more for the themes stage: its throughput on the same sentences, and its
cosine with the adapted network run by sentence-transformers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpus" / "ai-strategy"


def sentences(count: int, source: Path | None = None) -> list[str]:
    from cluster.embed import calibration_sentences
    from extract.sentences import split_sentences

    pool: list[str] = []
    if source is not None:
        pool = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif SHARED.is_dir():
        for path in sorted(SHARED.rglob("*.md")):
            pool += [s.text for s in split_sentences(path.read_text(encoding="utf-8")) if len(s.text.split()) >= 4]
    if not pool:
        pool = calibration_sentences()
    return [f"{pool[i % len(pool)]} ({i // len(pool)})" if i >= len(pool) else pool[i] for i in range(count)]


def timed(encode, texts: list[str], repeat: int) -> tuple[float, np.ndarray]:
    encode(texts[:256])  # warm-up: model load, kernels, allocator
    runs, vectors = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        vectors = encode(texts)
        runs.append(time.perf_counter() - start)
    assert vectors is not None
    return statistics.median(runs), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--from-file", type=Path, help="read the sentence pool from this file (one per line)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    from sentence_transformers import SentenceTransformer

    from cluster.embed import Embedder, model_path

    texts = sentences(args.sentences, args.from_file)
    plain_model = SentenceTransformer(str(model_path()), device=args.device)

    def plain(batch: list[str]) -> np.ndarray:
        return plain_model.encode(batch, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    ours_embedder = Embedder()
    ours_embedder.encode(texts[:2])
    plain_s, plain_v = timed(plain, texts, args.repeat)
    ours_s, ours_v = timed(ours_embedder.encode, texts, args.repeat)
    cosine = (plain_v * ours_v).sum(axis=1)
    print(f"{len(texts)} sentences on {args.device}, median of {args.repeat} runs each")
    print(f"plain sentence-transformers: {plain_s:.2f} s -> {len(texts) / plain_s:,.0f} sentences/s")
    print(f"undercurrent ({ours_embedder.name}): {ours_s:.2f} s -> {len(texts) / ours_s:,.0f} sentences/s")
    print(f"speed-up {plain_s / ours_s:.2f}x; cosine with plain: mean {cosine.mean():.4f}, min {cosine.min():.4f}")

    from cluster.adapter import merge
    from cluster.embed import theme_embedder

    theme = theme_embedder()
    theme.encode(texts[:2])
    merge(plain_model[0].auto_model, theme.adapter)  # plain sentence-transformers running the adapted network
    plain_theme_s, plain_theme_v = timed(plain, texts, args.repeat)
    theme_s, theme_v = timed(theme.encode, texts, args.repeat)
    cosine = (plain_theme_v * theme_v).sum(axis=1)
    print(
        f"theme encoder ({theme.name}): {theme_s:.2f} s -> {len(texts) / theme_s:,.0f} sentences/s; plain "
        f"sentence-transformers with the adapter {len(texts) / plain_theme_s:,.0f} sentences/s, speed-up "
        f"{plain_theme_s / theme_s:.2f}x; cosine: mean {cosine.mean():.4f}, min {cosine.min():.4f}"
    )


if __name__ == "__main__":
    main()
