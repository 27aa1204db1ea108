"""Claim extraction: train the shipped classifier, measure it on the dev split, and time it.

Run from the repository root (the labelled corpus sentences read their text from ../shared):

    .venv/bin/python bench/claims.py eval            # precision, recall, F1, actor and type accuracy on dev
    .venv/bin/python bench/claims.py speed           # sentences/s of the extractor on one core, embedding excluded
    .venv/bin/python bench/claims.py train           # retrain extract/claim_weights.json from the train split

``eval`` prints the figures for the full head (lexical features + embedding, what runs use) and for the lexical
head alone, overall and per part of the set (documents written by the project, real corpus documents).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.claimset import LABELS, LabelledDocument, label_files, load, sentence_key  # noqa: E402
from extract.claim_features import AI_TERMS, DIMENSIONS, Candidate, hashed_features  # noqa: E402
from extract.claim_model import CLAIM_TYPES, WEIGHTS_FILE, ClaimModel, default_model, model_from_dict  # noqa: E402
from extract.claims import LocalJudge, candidates_of, decide, refusal, resolve_actors  # noqa: E402
from extract.sentences import split_sentences  # noqa: E402

WEIGHTS = ROOT / "extract" / WEIGHTS_FILE
EMBEDDING_SCALES = (1.0, 2.0, 3.0, 4.0)  # weight of the embedding block against the lexical features: chosen by CV
C_GRID = (0.3, 1.0, 3.0, 10.0)
FOLDS = 5
CV_REPEATS = 3


def labels_digest() -> str:
    digest = hashlib.sha256()
    for path in label_files():
        digest.update(path.relative_to(LABELS).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Example:
    doc: str
    candidate: Candidate
    claim: bool
    claim_type: str | None


def examples(docs: Sequence[LabelledDocument]) -> list[Example]:
    """The labelled sentences the classifier decides: candidates the hard rules do not refuse (the others can
    never be claims, so the model is not trained on them)."""
    out = []
    for doc in docs:
        sentences, _, candidates = candidates_of(doc.text, doc.kind)
        if not any(AI_TERMS.search(s.text) for s in sentences):
            continue  # an off-topic document: refused as a whole
        seen: set[str] = set()
        for sentence, candidate in zip(sentences, candidates, strict=True):
            key = sentence_key(sentence.text)
            label = doc.labels.get(key)
            if label is None or candidate is None or key in seen or refusal(sentence.text):
                continue
            seen.add(key)
            out.append(Example(doc.doc, candidate, label.claim, label.claim_type))
    return out


def embedder_encode():  # the real model, loaded once
    from cluster.embed import Embedder

    embedder = Embedder()
    return embedder.encode


def _matrix(rows: Sequence[dict[int, float]]):
    from scipy.sparse import csr_matrix

    data, indices, indptr = [], [], [0]
    for row in rows:
        for index in sorted(row):
            indices.append(index)
            data.append(row[index])
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(rows), DIMENSIONS), dtype=np.float64)


def _fit(x, y, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=0).fit(x, y)


def _best_threshold(y: np.ndarray, runs: list[np.ndarray], positives: int) -> tuple[float, float]:
    """The threshold with the best F1, averaged over repeated cross-validation runs and over neighbouring
    thresholds (+-0.02), so that a flat, noisy curve does not pick an accident; ties: the higher threshold.

    Recall counts every labelled claim (``positives``), those the candidate gate never lets through included.
    """
    grid = np.round(np.arange(0.2, 0.91, 0.01), 2)
    curve = np.zeros(len(grid))
    for p in runs:
        for i, t in enumerate(grid):
            pred = p >= t
            tp = float(np.sum(pred & y))
            precision = tp / max(float(np.sum(pred)), 1.0)
            recall = tp / max(float(positives), 1.0)
            curve[i] += 2 * precision * recall / max(precision + recall, 1e-9) / len(runs)
    smooth = np.convolve(np.pad(curve, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    best = max(range(len(grid)), key=lambda i: (round(float(smooth[i]), 6), grid[i]))
    return float(grid[best]), float(smooth[best])


def _cross_validate(x, y: np.ndarray, groups: list[str], c: float, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities, folds by document (``seed`` reshuffles which documents share a fold)."""
    docs = sorted(set(groups))
    fold_of = {d: int(hashlib.sha1(f"{seed}:{d}".encode()).hexdigest(), 16) % FOLDS for d in docs}
    folds = np.array([fold_of[g] for g in groups])
    p = np.zeros(len(y))
    for k in range(FOLDS):
        test = folds == k
        if test.any() and (~test).any():
            p[test] = _fit(x[~test], y[~test], c).predict_proba(x[test])[:, 1]
    return p


def _head(
    x_lex, vectors: np.ndarray | None, y, groups, kinds: np.ndarray, positives: dict[str, int], name: str
) -> dict:
    """The best (embedding scale, C) by cross-validated F1, refitted on the whole train split, with one decision
    threshold per document kind (articles and transcripts differ in how often a named actor means a claim)."""
    from scipy.sparse import csr_matrix, hstack

    scores = []
    for scale in EMBEDDING_SCALES if vectors is not None else (0.0,):
        x = hstack([x_lex, csr_matrix(vectors * scale)]).tocsr() if vectors is not None else x_lex
        for c in C_GRID:
            runs = [_cross_validate(x, y, groups, c, seed) for seed in range(CV_REPEATS)]
            _, f1 = _best_threshold(y, runs, sum(positives.values()))
            thresholds = {}
            for kind, count in sorted(positives.items()):
                mask = kinds == kind
                thresholds[kind], _ = _best_threshold(y[mask], [p[mask] for p in runs], count)
            scores.append((round(f1, 6), -c, scale, thresholds))
            print(f"  {name}: scale={scale} C={c:<5} cross-validated F1 {f1:.3f}, thresholds {thresholds}")
    f1, c, scale, thresholds = max(scores, key=lambda s: s[:3])
    c = -c
    x = hstack([x_lex, csr_matrix(vectors * scale)]).tocsr() if vectors is not None else x_lex
    model = _fit(x, y, c)
    weights = model.coef_[0]
    lexical = {str(i): round(float(weights[i]), 5) for i in np.nonzero(weights[:DIMENSIONS])[0]}
    head = {"bias": round(float(model.intercept_[0]), 5), "lexical": lexical, "thresholds": thresholds, "C": c}
    if vectors is not None:
        head["embedding"] = [round(float(w) * scale, 5) for w in weights[DIMENSIONS:]]  # scale folded in
        head["scale"] = scale
    print(f"  {name}: chose scale={scale} C={c} thresholds {thresholds} (cross-validated F1 {f1:.3f})")
    return head


def train() -> None:
    from sklearn.linear_model import LogisticRegression

    docs = load("train")
    rows = examples(docs)
    print(
        f"train: {len(docs)} documents, {sum(len(d.labels) for d in docs)} labelled sentences, "
        f"{len(rows)} candidates, {sum(r.claim for r in rows)} claims"
    )
    features = [hashed_features(r.candidate) for r in rows]
    x_lex = _matrix(features)
    vectors = embedder_encode()([r.candidate.text for r in rows]).astype(np.float64)
    y = np.array([r.claim for r in rows])
    groups = [r.doc for r in rows]
    kinds = np.array([r.candidate.kind for r in rows])
    positives = {
        kind: sum(lab.claim for d in docs if d.kind == kind for lab in d.labels.values()) for kind in set(kinds)
    }
    full = _head(x_lex, vectors, y, groups, kinds, positives, "full")
    lexical = _head(x_lex, None, y, groups, kinds, positives, "lexical")

    typed = [i for i, r in enumerate(rows) if r.claim]
    types = LogisticRegression(C=1.0, max_iter=2000, random_state=0).fit(
        x_lex[typed], [rows[i].claim_type for i in typed]
    )
    classes = [str(c) for c in types.classes_]
    assert set(classes) <= set(CLAIM_TYPES), classes
    used = np.nonzero(np.any(types.coef_ != 0, axis=0))[0]
    data = {
        "labels_digest": labels_digest(),
        "embedding_model": "all-MiniLM-L6-v2",
        "embedding_scale": 1.0,
        "claim": {"full": full, "lexical": lexical},
        "type": {
            "classes": classes,
            "bias": [round(float(b), 5) for b in types.intercept_],
            "lexical": {str(i): [round(float(w), 5) for w in types.coef_[:, i]] for i in used},
        },
    }
    WEIGHTS.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS} ({WEIGHTS.stat().st_size // 1024} KiB)")


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    actors_right: int = 0
    types_right: int = 0

    @property
    def precision(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    @property
    def recall(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / max(p + r, 1e-9)

    @property
    def sentences(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def line(self, name: str) -> str:
        return (
            f"{name:<22} sentences {self.sentences:5}  claims {self.tp + self.fn:4}  precision {self.precision:.3f}"
            f"  recall {self.recall:.3f}  F1 {self.f1:.3f}  actor acc {self.actors_right / max(self.tp, 1):.3f}"
            f"  type acc {self.types_right / max(self.tp, 1):.3f}"
        )


@dataclass
class Error:
    doc: str
    kind: str  # fp | fn
    text: str
    score: float | None


def evaluate(docs: Sequence[LabelledDocument], judge: LocalJudge, errors: list[Error] | None = None) -> Scores:
    """Sentence-level scores of ``decide`` against the labels."""
    scores = Scores()
    for doc in docs:
        seen: set[str] = set()
        for decision in decide(doc.text, doc.kind, judge):
            key = sentence_key(decision.sentence.text)
            label = doc.labels.get(key)
            if label is None or key in seen:
                continue
            seen.add(key)
            predicted = decision.accepted
            actors: tuple[str, ...] = ()
            if predicted and decision.candidate is not None and decision.judgement is not None:
                actors = resolve_actors(decision.candidate, decision.judgement)
                predicted = bool(actors)
            if predicted and label.claim:
                scores.tp += 1
                scores.actors_right += actors == label.actors
                scores.types_right += (
                    decision.judgement is not None and decision.judgement.claim_type == label.claim_type
                )
            elif predicted:
                scores.fp += 1
            elif label.claim:
                scores.fn += 1
            else:
                scores.tn += 1
            if errors is not None and predicted != label.claim:
                score = decision.judgement.score if decision.judgement else None
                errors.append(Error(doc.doc, "fp" if predicted else "fn", decision.sentence.text, score))
    return scores


class CachedEncode:
    """Embeddings computed once per text for the whole evaluation."""

    def __init__(self) -> None:
        self.encode = embedder_encode()
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            for text, vector in zip(missing, self.encode(missing), strict=True):
                self.cache[text] = vector
        return np.stack([self.cache[t] for t in texts])


def eval_report(model: ClaimModel | None = None, show_errors: bool = False) -> dict[str, Scores]:
    model = model or default_model()
    docs = load("dev")
    encode = CachedEncode()
    written = [d for d in docs if "/" not in d.doc]
    corpus = [d for d in docs if "/" in d.doc]
    print(
        f"dev split: {len(docs)} documents ({len(written)} written, {len(corpus)} corpus), "
        f"{sum(len(d.labels) for d in docs)} labelled sentences, "
        f"{sum(lab.claim for d in docs for lab in d.labels.values())} claims"
    )
    results = {}
    for head, judge in (("full", LocalJudge(model, encode)), ("lexical", LocalJudge(model, None))):
        errors: list[Error] = []
        results[head] = evaluate(docs, judge, errors)
        print(results[head].line(f"{head}: all"))
        print(evaluate(written, judge).line(f"{head}: written"))
        print(evaluate(corpus, judge).line(f"{head}: corpus"))
        if show_errors and head == "full":
            for e in errors:
                print(f"  {e.kind} {e.score if e.score is not None else '-':>6} {e.doc[:30]:30} {e.text[:150]}")
    return results


def _median_seconds(docs: Sequence[LabelledDocument], judge: LocalJudge, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for doc in docs:
            decide(doc.text, doc.kind, judge)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def speed(repeat: int) -> None:
    """Sentences/s of ``decide`` over every labelled document, vectors precomputed (embedding excluded)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    docs = load()
    encode = CachedEncode()
    for doc in docs:  # warm the vector cache so that timing excludes the model
        decide(doc.text, doc.kind, LocalJudge(None, encode))
    sentences = sum(len(split_sentences(d.text)) for d in docs)
    median = _median_seconds(docs, LocalJudge(None, encode), repeat)
    print(
        f"{sentences} sentences in {len(docs)} documents: median {median:.3f} s over {repeat} runs "
        f"-> {sentences / median:,.0f} sentences/s (one core, embeddings cached)"
    )
    median = _median_seconds(docs, LocalJudge(None, None), repeat)
    print(f"lexical head only: median {median:.3f} s -> {sentences / median:,.0f} sentences/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("train", "eval", "speed"))
    parser.add_argument("--errors", action="store_true", help="eval: list the dev sentences it gets wrong")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.command == "train":
        train()
    elif args.command == "eval":
        model = model_from_dict(json.loads(WEIGHTS.read_text(encoding="utf-8")))
        eval_report(model, args.errors)
    else:
        speed(args.repeat)


if __name__ == "__main__":
    main()
