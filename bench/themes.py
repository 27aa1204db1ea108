"""Themes: quality on the labelled sets, clustering speed at 20k/100k claims, and the cost of a day over 30 days.

    .venv/bin/python bench/themes.py quality      # BCubed precision/recall/F1 on labels/themes, raw vs theme space
    .venv/bin/python bench/themes.py train        # relearn the theme encoder and space (cluster/theme_space.npz)
    .venv/bin/python bench/themes.py holdout      # the same recipe, a quarter of the families held out and grouped
    .venv/bin/python bench/themes.py speed        # 20k and 100k claims: ours vs BERTopic (UMAP + HDBSCAN)
    .venv/bin/python bench/themes.py incremental  # 30 days of 3,000 claims: the themes stage's time per day

quality: every claim of a set is embedded with the embedding path runs use and grouped by
``cluster.themes.plan`` from scratch (no existing themes), as a first run would; BCubed counts an unthemed claim
as a theme of its own.

speed: a seeded mixture in 384-d (25 topics x 8 themes, themes of Zipf-distributed sizes whose members have
cosine ~0.56 with each other and ~0.36 with a sibling theme's, plus 10 % scattered noise) clustered by
``cluster.themes.discover`` (median of ``--repeat`` runs) and by BERTopic with the same embeddings
(UMAP to 5-d + HDBSCAN, its defaults otherwise; needs ``pip install bertopic``); ARI against the mixture's labels
(noise as one label). Then the same on the real claims of the labelled sets.

incremental: a fresh DuckDB file, 100 documents of 30 claims per day (mixture vectors pre-cached and the file
checkpointed before each day, so the time is the themes stage's own), the themes stage timed on each of 30 days.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cluster.metrics import bcubed  # noqa: E402
from cluster.space import ThemeSpace  # noqa: E402
from cluster.themes import ThemeOptions, plan  # noqa: E402

THEME_SET = ROOT / "labels" / "themes" / "themes.jsonl"
TUNING_SET = ROOT / "labels" / "themes" / "tuning.jsonl"
TRAINING_SET = ROOT / "labels" / "themes" / "train.jsonl"
FAMILY_SET = ROOT / "labels" / "themes" / "families.jsonl"
SPACE_FILE = ROOT / "cluster" / "theme_space.npz"
SHRINKAGE_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03)


def labels_digest() -> str:
    """Digest of the labels the shipped theme encoder and space were learned from."""
    hasher = hashlib.blake2b(digest_size=8)
    for path in (TRAINING_SET, FAMILY_SET):
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def labelled_claims(path: Path = THEME_SET) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            texts += item["claims"]
            labels += [item["theme"]] * len(item["claims"])
    return texts, labels


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    f1: float
    themes: int
    unthemed_share: float


def grouping(vectors: np.ndarray, options: ThemeOptions | None = None) -> list[int]:
    """The theme each claim lands in (-1: unthemed) when all of them arrive on one day."""
    result = plan(vectors, np.zeros((0, vectors.shape[1]), dtype=np.float32), options or ThemeOptions())
    targets = [-1] * len(vectors)
    for i, (target, _) in result.assignments.items():
        targets[i] = target
    return targets


def quality(vectors: np.ndarray, labels: list[str], options: ThemeOptions | None = None) -> Quality:
    targets = grouping(vectors, options)
    precision, recall, f1 = bcubed(labels, targets)
    themes = len({t for t in targets if t >= 0})
    return Quality(precision, recall, f1, themes, sum(t < 0 for t in targets) / len(targets))


def training_claims() -> tuple[list[str], list[str], dict[str, str]]:
    """Claims, labels and each family idea's family: train.jsonl and families.jsonl together."""
    texts, labels = labelled_claims(TRAINING_SET)
    families: dict[str, str] = {}
    for line in FAMILY_SET.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            texts += item["claims"]
            labels += [item["theme"]] * len(item["claims"])
            families[item["theme"]] = item["family"]
    return texts, labels, families


def embedded(path: Path, adapter: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, list[str]]:
    """A labelled set's vectors by the embedding path runs use: the theme encoder when ``adapter`` is given."""
    from cluster.embed import Embedder

    texts, labels = labelled_claims(path)
    return Embedder(adapter=adapter).encode(texts), labels


def learn_encoder(texts: list[str], labels: list[str], families: dict[str, str], seed: int = 0) -> ThemeSpace:
    """The theme encoder's adapter learned from these claims, then the theme space over its vectors of
    train.jsonl, its shrinkage chosen on tuning.jsonl (BCubed F1 of a first run); the space holds the adapter."""
    from cluster import adapter as adapters
    from cluster import space as spaces
    from cluster.embed import model_path
    from extract.actors import generalise_actors

    ideas = len(set(labels))
    print(f"adapter: {len(texts)} claims of {ideas} ideas ({len(set(families.values()))} families)", flush=True)
    adapter = adapters.train(
        str(model_path()),
        texts,
        labels,
        families,
        augment=generalise_actors,
        seed=seed,
        report=lambda e, loss: print(f"  epoch {e}: loss {loss:.3f}", flush=True),
    )
    vectors, space_labels = embedded(TRAINING_SET, adapter)
    tuning, tuning_labels = embedded(TUNING_SET, adapter)
    scored = []
    for shrinkage in SHRINKAGE_GRID:
        candidate = spaces.learn(vectors, space_labels, shrinkage, adapter=adapter)
        q = quality(candidate.apply(tuning), tuning_labels)
        print(f"shrinkage {shrinkage:g}: tuning BCubed F1 {q.f1:.3f} (P {q.precision:.3f} R {q.recall:.3f})")
        scored.append((round(q.f1, 3), -shrinkage))
    best = -max(scored)[1]
    meta = {
        "labels_digest": labels_digest(),
        "themes": len(set(space_labels)),
        "claims": len(space_labels),
        "adapter_ideas": ideas,
        "adapter_claims": len(texts),
    }
    print(f"chose shrinkage {best:g}")
    return spaces.learn(vectors, space_labels, best, meta, adapter)


def train() -> None:
    """Learn the theme encoder and space from train.jsonl and families.jsonl; write cluster/theme_space.npz."""
    from cluster import space as spaces

    space = learn_encoder(*training_claims())
    spaces.save(space, str(SPACE_FILE))
    print(f"wrote {SPACE_FILE.relative_to(ROOT)}")


def holdout(every: int = 4, seed: int = 0) -> None:
    """Check the training recipe on ideas it never saw: hold every ``every``-th family of families.jsonl out of
    training, learn encoder and space from the rest, and group the held-out families' claims (all on one day)."""
    from cluster.embed import Embedder

    texts, labels, families = training_claims()
    held = set(sorted(set(families.values()))[::every])
    kept = [i for i, label in enumerate(labels) if families.get(label) not in held]
    space = learn_encoder([texts[i] for i in kept], [labels[i] for i in kept], families, seed)
    out = sorted(set(range(len(labels))) - set(kept))
    held_texts, held_labels = [texts[i] for i in out], [labels[i] for i in out]
    ours = space.apply(Embedder(adapter=space.adapter).encode(held_texts))
    raw = Embedder().encode(held_texts)
    for name, vectors in (("theme encoder + space", ours), ("raw MiniLM", raw)):
        q = quality(vectors, held_labels)
        print(
            f"{len(held)} held-out families ({len(set(held_labels))} ideas, {len(held_labels)} claims), {name}: "
            f"BCubed precision {q.precision:.3f}, recall {q.recall:.3f}, F1 {q.f1:.3f}; {q.themes} themes found, "
            f"unthemed share {q.unthemed_share:.2f}"
        )


def report_quality(options: ThemeOptions | None = None) -> None:
    from cluster.space import default_space

    space = default_space()
    for path in (THEME_SET, TUNING_SET):
        vectors, labels = embedded(path, space.adapter)
        raw, _ = embedded(path)
        for name, mapped in (("theme encoder + space", space.apply(vectors)), ("raw MiniLM", raw)):
            q = quality(mapped, labels, options)
            print(
                f"{path.name}: {len(labels)} claims in {len(set(labels))} themes, {name}: BCubed precision "
                f"{q.precision:.3f}, recall {q.recall:.3f}, F1 {q.f1:.3f}; {q.themes} themes found, "
                f"unthemed share {q.unthemed_share:.2f}"
            )


def mixture(n: int, seed: int = 0, topics: int = 25, per_topic: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in 384-d and their theme (-1: noise), in a shuffled order."""
    rng = np.random.default_rng(seed)
    dims = 384
    tops = rng.standard_normal((topics, dims))
    tops /= np.linalg.norm(tops, axis=1, keepdims=True)
    centres = np.repeat(tops, per_topic, axis=0) + 0.8 * rng.standard_normal((topics * per_topic, dims)) / np.sqrt(dims)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1 / np.arange(1, len(centres) + 1) ** 0.7
    weights = rng.permutation(weights / weights.sum())
    themed = int(n * 0.9)
    labels = rng.choice(len(centres), size=themed, p=weights)
    points = centres[labels] + 0.88 * rng.standard_normal((themed, dims)) / np.sqrt(dims)
    points = np.vstack([points, rng.standard_normal((n - themed, dims))])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    truth = np.concatenate([labels, -np.ones(n - themed, dtype=int)])
    order = rng.permutation(n)
    return points[order].astype(np.float32), truth[order]


def _bertopic(vectors: np.ndarray, min_cluster_size: int) -> np.ndarray:
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    model = BERTopic(
        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42),
        hdbscan_model=HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean", prediction_data=True),
        calculate_probabilities=False,
    )
    topics, _ = model.fit_transform([f"claim {i}" for i in range(len(vectors))], vectors)
    return np.asarray(topics)


def speed(sizes: list[int], repeat: int, with_bertopic: bool) -> None:
    import time

    from sklearn.metrics import adjusted_rand_score

    from cluster.themes import ThemeOptions, discover

    if with_bertopic:
        _bertopic(mixture(2_000, seed=1)[0], 10)  # compile UMAP's numba code outside the timings
    for n in sizes:
        vectors, truth = mixture(n)
        options = ThemeOptions()
        times, labels = [], None
        for _ in range(repeat):
            start = time.perf_counter()
            found = discover(vectors, options)
            times.append(time.perf_counter() - start)
            if labels is not None and not np.array_equal(labels, found):
                print("  warning: two runs gave different clusters")
            labels = found
        assert labels is not None
        ours = float(np.median(times))
        sized = options.for_size(n)
        print(
            f"{n:,} claims ({len(set(truth.tolist())) - 1} themes + 10% noise): ours {ours:.1f} s "
            f"(median of {repeat}), "
            f"ARI {adjusted_rand_score(truth, labels):.3f}, {labels.max() + 1} themes, unthemed "
            f"{np.mean(labels < 0):.2f} [min_cluster_size {sized.min_cluster_size}, {sized.selection}]",
            flush=True,
        )
        if with_bertopic:
            start = time.perf_counter()
            topics = _bertopic(vectors, sized.min_cluster_size)
            theirs = time.perf_counter() - start
            print(
                f"{n:,} claims: BERTopic {theirs:.1f} s, ARI {adjusted_rand_score(truth, topics):.3f}, "
                f"{topics.max() + 1} topics, outliers {np.mean(topics < 0):.2f}; "
                f"time ours/BERTopic {ours / theirs:.2f}",
                flush=True,
            )
    # real claims: every labelled set together, in the theme space
    from cluster.space import default_space

    texts, labels_real = [], []
    for path in (THEME_SET, TUNING_SET, TRAINING_SET):
        t, lab = labelled_claims(path)
        texts += t
        labels_real += [f"{path.stem}:{x}" for x in lab]
    from cluster.embed import Embedder

    space = default_space()
    raw = Embedder().encode(texts)
    mapped = space.apply(Embedder(adapter=space.adapter).encode(texts))
    start = time.perf_counter()
    q = quality(mapped, labels_real)
    print(
        f"real claims ({len(texts)} in {len(set(labels_real))} labelled themes; the space was learned on "
        f"{TRAINING_SET.name}, part of them): ours {time.perf_counter() - start:.2f} s, BCubed F1 {q.f1:.3f}, "
        f"unthemed {q.unthemed_share:.2f}"
    )
    if with_bertopic:
        for name, vectors in (("raw MiniLM", raw), ("theme space", mapped)):
            topics = _bertopic(vectors, 3)
            _, _, f1 = bcubed(labels_real, topics.tolist())
            print(f"real claims: BERTopic on {name} BCubed F1 {f1:.3f}, outliers {np.mean(topics < 0):.2f}")


def incremental(days: int, per_day: int, docs_per_day: int) -> None:
    """Simulated days through the real themes stage on a DuckDB file; the time of each day's stage."""
    import tempfile
    import time
    from datetime import date, timedelta

    import pandas as pd

    from cluster.embed import theme_embedder
    from core.ids import text_hash
    from flows import stages
    from store.db import open_db

    vectors, truth = mixture(days * per_day, seed=7)
    rng = np.random.default_rng(7)
    vocabulary = [f"w{i:04d}" for i in range(3_000)]
    theme_words = {t: rng.choice(vocabulary, size=6, replace=False).tolist() for t in set(truth.tolist())}
    embedder = theme_embedder()
    model = embedder.name
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        con = open_db(Path(folder) / "bench.duckdb")
        con.execute("INSERT INTO sources (source_id, name, kind, added_at) VALUES ('src', 'bench', 'news', now())")
        start_day = date(2026, 1, 1)
        for d in range(days):
            day = start_day + timedelta(days=d)
            rows = range(d * per_day, (d + 1) * per_day)
            texts = [
                " ".join(theme_words[int(truth[i])][:4] + rng.choice(vocabulary, size=14).tolist()) + f" n{i}"
                for i in rows
            ]
            docs = pd.DataFrame(
                {
                    "document_id": [f"doc{d}_{k}" for k in range(docs_per_day)],
                    "source_id": "src",
                    "kind": "article",
                    "text": "bench",
                    "content_hash": [f"h{d}_{k}" for k in range(docs_per_day)],
                    "ingested_at": pd.Timestamp(day),
                    "published_at": pd.Timestamp(day),
                    "processed_for": pd.Timestamp(day).date(),
                }
            )
            con.register("docs", docs)
            con.execute(
                "INSERT INTO documents (document_id, source_id, kind, text, content_hash, ingested_at, published_at, "
                "processed_for) SELECT * FROM docs"
            )
            claims = pd.DataFrame(
                {
                    "claim_id": [f"c{i:07d}" for i in rows],
                    "document_id": [f"doc{d}_{k % docs_per_day}" for k in range(per_day)],
                    "seq": list(range(per_day)),
                    "text": texts,
                }
            )
            con.register("new_claims", claims)
            con.execute(
                "INSERT INTO claims (claim_id, document_id, seq, text, quote, start_char, end_char, actors, entities, "
                "claim_type, hedged, score) SELECT claim_id, document_id, seq, text, text, 0, 1, ['CN'], [], "
                "'analysis', false, 1.0 FROM new_claims"
            )
            cache = pd.DataFrame(
                {"model": model, "text_hash": [text_hash(t) for t in texts], "vector": list(vectors[list(rows)])}
            )
            con.register("cache", cache)
            con.execute("INSERT INTO embeddings SELECT model, text_hash, vector::FLOAT[] FROM cache")
            for name in ("docs", "new_claims", "cache"):
                con.unregister(name)
            con.execute("CHECKPOINT")  # the day's inserts are written out before the stage is timed
            start = time.perf_counter()
            counts = stages.themes_stage(con, embedder, day)
            timings.append(time.perf_counter() - start)
            if d in (0, 1, 6, 7, 13, 14, 29) or d == days - 1:
                print(
                    f"day {d + 1:2d}: {timings[-1]:.2f} s, joined {counts['claims_joined']}, "
                    f"new themes {counts['themes_created']}, unthemed {counts['claims_unthemed']}",
                    flush=True,
                )
        total = con.execute("SELECT count(*) FROM claims").fetchone()
        con.close()
    print(
        f"{days} days x {per_day:,} claims ({total[0] if total else 0:,} in all): day 1 {timings[0]:.2f} s "
        f"(every theme new), day 2 {timings[1]:.2f} s, day {days} {timings[-1]:.2f} s; day {days} / day 1 "
        f"{timings[-1] / timings[0]:.2f}, day {days} / day 2 {timings[-1] / timings[1]:.2f}; medians: days 2-8 "
        f"{float(np.median(timings[1:8])):.2f} s, last 7 days {float(np.median(timings[-7:])):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("quality", "train", "holdout", "speed", "incremental"))
    parser.add_argument("--sizes", default="20000,100000", help="speed: claim counts (comma-separated)")
    parser.add_argument("--repeat", type=int, default=3, help="speed: runs of ours per size (median)")
    parser.add_argument("--no-bertopic", action="store_true", help="speed: skip BERTopic")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=0, help="holdout: the training seed (train always uses 0)")
    args = parser.parse_args()
    if args.command == "train":
        train()
    elif args.command == "holdout":
        holdout(seed=args.seed)
    elif args.command == "speed":
        speed([int(x) for x in args.sizes.split(",")], args.repeat, not args.no_bertopic)
    elif args.command == "incremental":
        incremental(args.days, args.per_day, 100)
    else:
        report_quality()


if __name__ == "__main__":
    main()
