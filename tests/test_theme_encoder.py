"""The theme encoder: MiniLM with the shipped fine-tune, compressed to low-rank updates (``cluster.adapter``)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bench.themes import FAMILY_SET
from cluster import adapter as adapters
from cluster.embed import (
    CudaEncoder,
    Embedder,
    TorchEncoder,
    calibration_sentences,
    fast_model,
    model_path,
    theme_embedder,
)
from cluster.space import default_space, load, save
from extract.actors import generalise_actors
from flows.stages import check_encoder


def test_batches_set_whole_families_side_by_side() -> None:
    labels = [f"f{f}-idea{i}" for f in range(3) for i in range(4) for _ in range(5)]
    families = {label: label.split("-")[0] for label in labels}
    first = adapters.batches(labels, families, random.Random(3), themes=4, per_theme=4)
    assert first == adapters.batches(labels, families, random.Random(3), themes=4, per_theme=4)
    assert len(first) == 3
    for batch in first:
        assert len(batch) == 16 and len(set(batch)) == 16
        ideas = [labels[i] for i in batch]
        assert len(set(ideas)) == 4 and all(ideas.count(x) == 4 for x in set(ideas))
        assert len({families[x] for x in ideas}) == 1  # its negatives are its family's other ideas
    assert adapters.batches(labels, families, random.Random(4), themes=4, per_theme=4) != first  # shuffled


def test_compress_keeps_a_low_rank_change_and_drops_what_did_not_change() -> None:
    import torch

    generator = torch.Generator().manual_seed(0)
    before = {
        "layer.0.dense.weight": torch.randn(12, 8, generator=generator),
        "layer.0.dense.bias": torch.randn(12, generator=generator),
        "layer.0.norm.weight": torch.ones(8),
    }
    change = torch.randn(12, 2, generator=generator) @ torch.randn(2, 8, generator=generator)  # rank 2
    after = dict(before)
    after["layer.0.dense.weight"] = before["layer.0.dense.weight"] + change
    after["layer.0.dense.bias"] = before["layer.0.dense.bias"] + 0.5
    adapter = adapters.compress(before, after, rank=3)
    assert set(adapter) == {"layer.0.dense.weight.A", "layer.0.dense.weight.B", "layer.0.dense.bias.delta"}
    assert adapter["layer.0.dense.weight.A"].shape == (3, 8) and adapter["layer.0.dense.weight.B"].shape == (12, 3)
    got = adapters.updates(adapter)
    assert np.allclose(got["layer.0.dense.weight"], change.numpy(), atol=5e-3)  # stored in float16
    assert np.allclose(got["layer.0.dense.bias"], 0.5)
    cut = adapters.updates(adapters.compress(before, after, rank=1))["layer.0.dense.weight"]
    assert not np.allclose(cut, change.numpy(), atol=5e-2)  # rank 1 cannot hold a rank-2 change


def test_generalise_actors_names_sides_not_firms() -> None:
    text = "Airbnb leans on Alibaba's Qwen rather than OpenAI, say investors in China and at TSMC."
    assert generalise_actors(text) == (
        "Airbnb leans on a Chinese firm rather than a US firm, say investors in China and at TSMC."
    )
    assert generalise_actors("Nothing named here.") == "Nothing named here."


def test_the_shipped_adapter_is_what_the_theme_embedder_runs() -> None:
    space = default_space()
    bert = TorchEncoder().model[0].auto_model
    parameters = dict(bert.encoder.named_parameters())
    changed = adapters.updates(space.adapter)
    assert set(changed) == set(parameters)  # every encoder parameter, nothing else (the token embeddings stay)
    for name, parameter in parameters.items():
        assert changed[name].shape == tuple(parameter.shape)
        if parameter.dim() == 2:
            assert space.adapter[f"{name}.A"].shape[0] == adapters.RANK == space.adapter[f"{name}.B"].shape[1]
    embedder = theme_embedder()
    assert embedder.adapter is space.adapter
    assert f"+theme-{adapters.digest(space.adapter)}" in embedder.name
    assert embedder.name != Embedder().name  # its vectors are cached apart from plain MiniLM's
    if "+onnx-" in embedder.name:
        assert embedder.name.endswith("+onnx-fp32")  # never int8: the rounding blurs what it was taught
        found = fast_model(space.adapter)
        assert found is not None and found[1] == "fp32" and f"-theme-{adapters.digest(space.adapter)}-" in str(found[0])
        manifest = json.loads((found[0].parent / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["adapter"] == adapters.digest(space.adapter)
        assert manifest["files"]["fp32"]["mean_cosine"] >= 0.999
    check_encoder(embedder, space)
    with pytest.raises(ValueError, match="theme encoder"):
        check_encoder(Embedder(), space)


def test_the_space_file_round_trips_with_its_adapter(tmp_path: Path) -> None:
    space = default_space()
    save(space, str(tmp_path / "space.npz"))
    again = load(tmp_path / "space.npz")
    assert again.name == space.name
    assert all(np.array_equal(again.adapter[k], space.adapter[k]) for k in space.adapter)
    changed = dict(space.adapter)
    key = sorted(changed)[0]
    changed[key] = changed[key] * 1.01
    assert type(space)(space.mean, space.projection, space.meta, changed).name != space.name


def test_every_path_runs_the_adapted_network() -> None:
    sentences = calibration_sentences()
    adapter = default_space().adapter
    fast = theme_embedder().encode(sentences)  # ONNX fp32 on this machine
    reference = TorchEncoder(adapter=adapter).encode(sentences)
    gpu_code = CudaEncoder(device="cpu", adapter=adapter).encode(sentences)  # the CUDA encoder's code, in fp32
    plain = Embedder().encode(sentences)
    assert float((fast * reference).sum(axis=1).min()) >= 0.999
    assert float((gpu_code * reference).sum(axis=1).min()) >= 0.999
    # the adapter moves the vectors: what it learned is not a rounding error away from MiniLM
    assert float((reference * plain).sum(axis=1).mean()) < 0.95


def test_the_prototype_loss_pulls_a_claim_toward_the_rest_of_its_idea() -> None:
    import torch

    e = torch.eye(3)
    # idea 0: two orthogonal claims; idea 1: two identical claims, orthogonal to both
    vectors = torch.stack([e[0], e[1], e[2], e[2]])
    ids = torch.tensor([0, 0, 1, 1])
    # rows 0 and 1 see their own idea only through the other claim (cosine 0, as is the other idea's):
    # log 2 each; rows 2 and 3 find their idea at cosine 1 against 0, a loss of about e^-20
    expected = (2 * np.log(2) + 2 * np.log1p(np.exp(-1 / 0.05))) / 4
    assert adapters.prototype_loss(vectors, ids, 0.05).item() == pytest.approx(expected, rel=1e-5)
    # claims placed with the other idea cost far more than claims placed with their own
    grouped = torch.stack([e[0], e[0], e[1], e[1]])
    crossed = torch.stack([e[0], e[1], e[0], e[1]])
    assert adapters.prototype_loss(grouped, ids, 0.05).item() < 0.01
    assert adapters.prototype_loss(crossed, ids, 0.05).item() > 5


def test_training_lowers_the_prototype_loss_on_a_small_set() -> None:
    texts, labels, families = [], [], {}
    for line in FAMILY_SET.read_text(encoding="utf-8").splitlines()[:8]:  # two families of four ideas
        item = json.loads(line)
        texts += item["claims"]
        labels += [item["theme"]] * len(item["claims"])
        families[item["theme"]] = item["family"]
    losses: list[float] = []
    learned = adapters.train(
        str(model_path()),
        texts,
        labels,
        families,
        augment=generalise_actors,
        epochs=4,
        themes=4,
        per_theme=4,
        report=lambda _, x: losses.append(x),
    )
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert set(learned) == set(default_space().adapter)  # the shipped adapter's shape
    assert all(np.abs(value).max() > 0 for value in learned.values())
