"""The theme encoder: MiniLM with low-rank updates to its last layer, taught to tell ideas apart (compute only).

MiniLM places claims by surface topic, and a linear map over its sentence vectors (``cluster.space``) can only
re-weight what the vectors hold. Ideas that share actors and vocabulary ("Chinese labs give weights away to sell
cloud" and "Chinese labs now keep their best models closed") need the network itself to weigh the words that
carry the argument. The adapter adds a rank-``RANK`` update ``B @ A`` to each of the six weight matrices of the
last transformer layer (55k numbers beside the model's 22.7M), learned with a supervised contrastive loss on
labelled groups of paraphrases: ``labels/themes/train.jsonl`` and ``families.jsonl``, whose families of four
ideas about the same actors give each batch its hard negatives. Everything below the last layer is unchanged.

``train`` learns an adapter (seeded; about two minutes on two CPU cores); ``merge`` adds it to a loaded model's
weights, so every embedding path (sentence-transformers, the CUDA encoder, the ONNX export) runs the adapted
network unchanged.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

RANK = 8
LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)

Adapter = dict[str, np.ndarray]  # "<linear>.A" (rank, in), "<linear>.B" (out, rank)


def digest(adapter: Adapter) -> str:
    hasher = hashlib.blake2b(digest_size=6)
    for key in sorted(adapter):
        hasher.update(key.encode())
        hasher.update(np.ascontiguousarray(adapter[key], dtype=np.float32).tobytes())
    return hasher.hexdigest()


def merge(bert: Any, adapter: Adapter) -> None:
    """Add the adapter's updates to the last layer of a transformers BERT model, in place."""
    import torch

    layer = bert.encoder.layer[-1]
    with torch.no_grad():
        for name in LINEARS:
            module = layer.get_submodule(name)
            update = torch.from_numpy(adapter[f"{name}.B"].astype(np.float32) @ adapter[f"{name}.A"].astype(np.float32))
            module.weight += update.to(device=module.weight.device, dtype=module.weight.dtype)


def batches(
    labels: Sequence[str], families: dict[str, str], rng: random.Random, themes: int, per_theme: int
) -> list[list[int]]:
    """One epoch of batches (indices): whole families side by side, so a batch's negatives share its vocabulary."""
    members: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    by_family: dict[str, list[str]] = {}
    for label in sorted(members):
        by_family.setdefault(families.get(label, label), []).append(label)
    order: list[str] = []
    family_names = sorted(by_family)
    rng.shuffle(family_names)
    for family in family_names:
        ideas = by_family[family][:]
        rng.shuffle(ideas)
        order += ideas
    out = []
    for start in range(0, len(order) - themes + 1, themes):
        out.append([i for label in order[start : start + themes] for i in rng.sample(members[label], per_theme)])
    return out


def train(
    model_dir: str,
    texts: Sequence[str],
    labels: Sequence[str],
    families: dict[str, str],
    *,
    epochs: int = 8,
    learning_rate: float = 1e-3,
    temperature: float = 0.05,
    themes: int = 16,
    per_theme: int = 4,
    seed: int = 0,
    report: Callable[[int, float], None] | None = None,
) -> Adapter:
    """Learn an adapter: supervised contrastive loss over batches of ``themes`` ideas x ``per_theme`` claims."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    bert = AutoModel.from_pretrained(model_dir, dtype=torch.float32).train()
    for parameter in bert.parameters():
        parameter.requires_grad = False
    layer = bert.encoder.layer[-1]
    factors: dict[str, torch.nn.Parameter] = {}
    for name in LINEARS:
        module = layer.get_submodule(name)
        a = torch.nn.Parameter(torch.randn(RANK, module.in_features) * 0.01)
        b = torch.nn.Parameter(torch.zeros(module.out_features, RANK))
        factors[f"{name}.A"], factors[f"{name}.B"] = a, b
        module.register_forward_hook(lambda _m, inputs, output, a=a, b=b: output + (inputs[0] @ a.T) @ b.T)
    optimiser = torch.optim.AdamW(list(factors.values()), lr=learning_rate)
    for epoch in range(1, epochs + 1):
        losses = []
        for batch in batches(labels, families, rng, themes, per_theme):
            encoded = tokenizer(
                [texts[i] for i in batch], padding=True, truncation=True, max_length=256, return_tensors="pt"
            )
            hidden = bert(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).float()
            vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)
            ids = torch.tensor(_label_ids([labels[i] for i in batch]))
            same = (ids[:, None] == ids[None, :]).float() - torch.eye(len(batch))
            scores = vectors @ vectors.T / temperature - 1e9 * torch.eye(len(batch))
            log_p = scores - torch.logsumexp(scores, dim=1, keepdim=True)
            loss = (-(log_p * same).sum(1) / same.sum(1).clamp(min=1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        if report:
            report(epoch, float(np.mean(losses)))
    return {key: value.detach().numpy().astype(np.float32) for key, value in factors.items()}


def _label_ids(labels: list[str]) -> list[int]:
    seen: dict[str, int] = {}
    return [seen.setdefault(label, len(seen)) for label in labels]
