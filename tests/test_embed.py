"""The embedding paths: the fast ONNX path agrees with sentence-transformers, is chosen on CPU, is cached once,
and a broken cache folder falls back to the torch path instead of stopping a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cluster.embed import MIN_AGREEMENT, MODEL_NAME, Embedder, cache_root, calibration_sentences
from core.errors import UndercurrentError


def test_fast_path_agrees_with_sentence_transformers() -> None:
    texts = calibration_sentences()
    fast, plain = Embedder(backend="onnx"), Embedder(backend="torch")
    a, b = fast.encode(texts), plain.encode(texts)
    assert fast.name.startswith(MODEL_NAME + "+onnx-") and plain.name == MODEL_NAME
    assert a.shape == b.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cosine = (a * b).sum(axis=1)
    assert cosine.mean() >= MIN_AGREEMENT and cosine.min() > 0.95
    # the order of the input changes nothing
    order = np.random.default_rng(7).permutation(len(texts))
    assert np.allclose(fast.encode([texts[i] for i in order]), a[order], atol=1e-5)


def test_export_is_cached_with_its_measured_agreement() -> None:
    Embedder(backend="onnx").encode(["warm"])
    folders = (cache_root() / "models").glob(f"{MODEL_NAME}-*/manifest.json")
    manifests = [path for path in folders if "-theme-" not in path.parent.name]
    assert manifests
    manifest = json.loads(manifests[0].read_text(encoding="utf-8"))
    assert manifest["files"]["fp32"]["mean_cosine"] >= 0.999
    assert manifest["files"]["int8"]["mean_cosine"] >= MIN_AGREEMENT


def test_an_unusable_cache_falls_back_to_sentence_transformers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("UNDERCURRENT_CACHE", str(blocker))
    auto = Embedder()
    vectors = auto.encode(["DeepSeek cut its prices."])
    assert auto.name == MODEL_NAME and vectors.shape == (1, 384)
    with pytest.raises(UndercurrentError, match="ONNX"):
        Embedder(backend="onnx").encode(["forced"])


def test_backend_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNDERCURRENT_EMBEDDER", "gpu-please")
    with pytest.raises(UndercurrentError, match="UNDERCURRENT_EMBEDDER"):
        Embedder()


def test_the_gpu_path_batches_within_a_token_budget_and_agrees_with_sentence_transformers() -> None:
    """The CUDA encoder's own code (Rust tokenizer, token-budget batches, pooling), run here on the CPU in fp32,
    gives the vectors of plain sentence-transformers."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from cluster.embed import CudaEncoder, model_path

    encoder = CudaEncoder(device="cpu")
    encoder.TOKEN_BUDGET = 256  # several batches of several sizes, even for a few sentences
    texts = [
        "Chinese labs give away open weights as a loss leader for their clouds.",
        "Export controls backfired.",
        "China is building the Android of AI while the United States builds the iPhone, " * 6,
        "Nvidia's share of China's accelerator market has collapsed.",
        "A.",
    ] * 3
    plan = encoder.batches(texts)
    assert sorted(int(i) for batch in plan for i in batch) == list(range(len(texts)))
    assert len(plan) > 2 and len({len(batch) for batch in plan}) > 1
    ours = encoder.encode(texts)
    plain = SentenceTransformer(str(model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    assert float((ours * plain).sum(axis=1).min()) > 0.9999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_the_onnx_path_tokenises_as_transformers_does() -> None:
    from transformers import AutoTokenizer

    from cluster.embed import OnnxEncoder, fast_model, model_path

    found = fast_model()
    assert found is not None
    encoder = OnnxEncoder(found[0])
    reference = AutoTokenizer.from_pretrained(str(model_path()))
    batches = [
        ["China " * 400, "Short claim about chips."],  # over the 256-token limit: truncated at 256, not 128
        ["Export controls backfired.", "Ünïcödé “quotes” 中文 and a tab\tstop", ""],  # padded to the longest only
    ]
    for texts in batches:
        encoded = encoder.tokenizer.encode_batch(texts)
        expected = reference(texts, padding=True, truncation=True, max_length=256, return_tensors="np")
        assert np.array_equal(np.array([e.ids for e in encoded]), expected["input_ids"])
        assert np.array_equal(np.array([e.attention_mask for e in encoded]), expected["attention_mask"])
        assert np.array_equal(np.array([e.type_ids for e in encoded]), expected["token_type_ids"])
    assert len(encoder.tokenizer.encode_batch(batches[0])[0].ids) == 256
    assert len(encoder.tokenizer.encode_batch(batches[1])[0].ids) < 128
