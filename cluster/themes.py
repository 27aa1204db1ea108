"""Theme discovery and assignment over normalised claim vectors (pure, deterministic)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class ThemeOptions:
    min_cluster_size: int = 3
    min_samples: int = 2
    join_threshold: float = 0.2  # cosine (in the theme space) to a theme centroid for a claim to join it
    selection: str = "leaf"
    neighbours: int = 15  # k of the k-nearest-neighbour graph HDBSCAN runs on
    large_from: int = 5_000  # from this many claims on, clusters are chosen for size (see ``for_size``)
    retry_days: int = 7  # unthemed claims get another chance on later runs for this many days
    merge_above: float = 0.9  # a day's new clusters whose centroids are this close (cosine) are one theme
    copies_above: float = 0.8  # leftover claims this close to each other (syndicated copies) form a theme

    def for_size(self, n: int) -> ThemeOptions:
        """Settings for clustering ``n`` claims at once.

        The fine settings (clusters of 3, leaf selection) suit a day's claims, where an idea may have only a
        handful; over a whole history (a full re-clustering) they would cut every theme into splinters, so
        from ``large_from`` claims on a theme needs one claim in 2,000 (at least ``min_cluster_size``), core
        distances use 5 neighbours and HDBSCAN keeps the most stable clusters (excess of mass).
        """
        if n < self.large_from:
            return self
        return replace(
            self,
            min_cluster_size=max(self.min_cluster_size, n // 2_000),
            min_samples=max(self.min_samples, 5),
            selection="eom",
        )


def centroid(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm else mean).astype(np.float32)


def assign(vectors: np.ndarray, centroids: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centroid per vector (-1 when below threshold) and its cosine."""
    if len(vectors) == 0 or len(centroids) == 0:
        return np.full(len(vectors), -1), np.zeros(len(vectors))
    sims = vectors @ centroids.T
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(vectors)), best]
    return np.where(best_sim >= threshold, best, -1), best_sim


def canonical_order(vectors: np.ndarray) -> np.ndarray:
    """A permutation that depends on the vectors alone, not on the order they came in (ties: equal vectors)."""
    keys = [hashlib.blake2b(np.round(row, 5).astype(np.float32).tobytes(), digest_size=16).digest() for row in vectors]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=int)


def discover(vectors: np.ndarray, options: ThemeOptions) -> np.ndarray:
    """HDBSCAN cluster labels (-1 for noise), the same for the same vectors in any order: clustering runs in
    the vectors' canonical order and clusters are numbered by their first member in that order."""
    options = options.for_size(len(vectors))
    if len(vectors) < max(options.min_cluster_size, 2) + 1:
        return np.full(len(vectors), -1)
    order = canonical_order(vectors)
    canonical = _relabel_by_first_member(hdbscan_knn(vectors[order], options))
    labels = np.full(len(vectors), -1)
    labels[order] = canonical
    return labels


def hdbscan_knn(vectors: np.ndarray, options: ThemeOptions) -> np.ndarray:
    """HDBSCAN* over unit vectors, its mutual-reachability spanning tree built from a k-nearest-neighbour graph
    instead of all n² pairs.

    Core distances need only the ``min_samples`` nearest neighbours, and the edges HDBSCAN's hierarchy keeps
    below the cluster level join near neighbours; so the minimum spanning tree of the k-NN graph (mutual
    reachability weights) gives the same clusters as the full one wherever clusters are denser than their
    surroundings. Parts of the graph that the k-NN edges leave unconnected are joined at the top of the
    hierarchy. Neighbours come from ``nearest_neighbours`` (exact up to ``EXACT_BELOW`` vectors), so the cost
    is a neighbour search plus O(n k) graph work: seconds for 100k claims, where HDBSCAN on raw 384-d vectors
    takes minutes at 30k.
    """
    from hdbscan._hdbscan_linkage import label as single_linkage
    from hdbscan.hdbscan_ import _tree_to_labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

    n = len(vectors)
    k = min(n - 1, max(options.neighbours, options.min_samples + 1))
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    sims, neighbours = nearest_neighbours(data, k + 1)
    distances = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims)).astype(np.float64)
    # column 0 is normally the point itself; an exact duplicate may come first instead, at distance 0 either way
    core = distances[:, min(options.min_samples, k)]
    rows = np.repeat(np.arange(n), k)
    cols = neighbours[:, 1:].ravel()
    valid = (cols >= 0) & (cols != rows)
    rows, cols, dist = rows[valid], cols[valid], distances[:, 1:].ravel()[valid]
    weights = np.maximum(np.maximum(dist, core[rows]), core[cols])
    # many edges share a weight (a point's core distance, wherever it exceeds the distance itself): among them
    # the nearer pair goes first, so a claim between two themes follows its nearest neighbour rather than
    # whichever edge the tie-breaking order happened to list first
    weights = weights + TIE_BREAK * dist
    # a zero weight would read as "no edge" in a sparse matrix: duplicates get the smallest positive one
    weights = np.maximum(weights, np.finfo(np.float64).tiny)
    graph = coo_matrix((weights, (rows, cols)), shape=(n, n)).tocsr()
    graph = graph.maximum(graph.T)
    tree = minimum_spanning_tree(graph).tocoo()
    edges = np.column_stack([tree.row, tree.col, tree.data]).astype(np.float64)
    parts, part_of = connected_components(tree, directed=False)
    if parts > 1:
        top = 2.0 * float(edges[:, 2].max()) if len(edges) else 4.0
        firsts = np.unique(part_of, return_index=True)[1]
        links = np.column_stack([np.full(parts - 1, firsts[0]), firsts[1:], np.full(parts - 1, top)])
        edges = np.vstack([edges, links])
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0], edges[:, 2]))]
    hierarchy = single_linkage(edges)
    return np.asarray(_tree_to_labels(None, hierarchy, options.min_cluster_size, options.selection)[0], dtype=int)


TIE_BREAK = 1e-9  # weight of the plain distance beside the mutual reachability distance (``hdbscan_knn``)
EXACT_BELOW = 30_000  # up to this many vectors the neighbour search is exact (flat index)


def nearest_neighbours(data: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner products and indices of each vector's ``k`` nearest (itself included).

    Exact below ``EXACT_BELOW`` vectors; above, an inverted-file index (4·√n lists, k-means trained with a fixed
    seed on an evenly spaced sample, 24 lists probed), which finds about 95 % of the exact neighbours in a
    quarter of the time: the full product of 100k × 100k 384-d vectors alone takes 40 s on two cores.
    """
    import faiss

    n, dims = data.shape
    if n < EXACT_BELOW:
        index = faiss.IndexFlatIP(dims)
        index.add(data)
        return index.search(data, k)
    lists = int(4 * np.sqrt(n))
    quantiser = faiss.IndexFlatIP(dims)
    index = faiss.IndexIVFFlat(quantiser, dims, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 1234
    index.cp.min_points_per_centroid = 1
    index.train(data[:: max(1, n // (lists * 40))])
    index.add(data)
    index.nprobe = 24
    return index.search(data, k)


def _relabel_by_first_member(labels: np.ndarray) -> np.ndarray:
    """Number clusters by the position of their first member, so labels do not depend on HDBSCAN internals."""
    mapping: dict[int, int] = {}
    out = np.full(len(labels), -1)
    for index, label in enumerate(labels):
        if label < 0:
            continue
        out[index] = mapping.setdefault(int(label), len(mapping))
    return out


@dataclass(frozen=True)
class ThemePlan:
    """What to do with a batch of unthemed claims (indices into the batch).

    ``assignments`` maps a claim to a target theme: targets below ``len(existing)`` are existing themes (by
    position), the rest are ``new_clusters`` (target - len(existing)). Claims in neither stay unthemed.
    """

    assignments: dict[int, tuple[int, float]]
    new_clusters: list[list[int]]
    new_centroids: list[np.ndarray]


def plan(vectors: np.ndarray, existing: np.ndarray, options: ThemeOptions) -> ThemePlan:
    """Join claims close to an existing theme; cluster the rest; then let leftovers join any close theme, and
    leftover copies of one claim form a theme of their own (``copy_groups``)."""
    canonical_rank = np.empty(len(vectors), dtype=int)
    canonical_rank[canonical_order(vectors)] = np.arange(len(vectors))
    nearest, sims = assign(vectors, existing, options.join_threshold)
    assignments = {i: (int(t), float(sims[i])) for i, t in enumerate(nearest) if t >= 0}
    rest = [i for i in range(len(vectors)) if i not in assignments]
    labels = discover(vectors[rest], options) if rest else np.array([], dtype=int)
    clusters = [[rest[j] for j in np.flatnonzero(labels == label)] for label in sorted(set(labels.tolist()) - {-1})]
    # members in canonical order, so that float sums (centroids) do not depend on the input order
    clusters = [sorted(members, key=lambda i: canonical_rank[i]) for members in clusters]
    merged = merge_close(vectors, clusters, options.merge_above)
    clusters = [sorted(members, key=lambda i: canonical_rank[i]) for members in merged]
    centroids = [centroid(vectors[members]) for members in clusters]
    for number, (members, middle) in enumerate(zip(clusters, centroids, strict=True)):
        for i in members:
            assignments[i] = (len(existing) + number, float(vectors[i] @ middle))
    leftovers = [i for i in rest if i not in assignments]
    if leftovers and (len(existing) or centroids):
        every = np.vstack([existing.reshape(-1, vectors.shape[1]), *[c[None, :] for c in centroids]])
        late, late_sims = assign(vectors[leftovers], every, options.join_threshold)
        for i, target, sim in zip(leftovers, late, late_sims, strict=True):
            if target >= 0:
                assignments[i] = (int(target), float(sim))
    leftovers = sorted((i for i in rest if i not in assignments), key=lambda i: canonical_rank[i])
    for members in copy_groups(vectors, leftovers, options.copies_above):
        middle = centroid(vectors[members])
        for i in members:
            assignments[i] = (len(existing) + len(clusters), float(vectors[i] @ middle))
        clusters.append(members)
        centroids.append(middle)
    return ThemePlan(assignments, clusters, centroids)


COPY_NEIGHBOURS = 10  # how many near neighbours of a leftover claim are checked for copies


def copy_groups(vectors: np.ndarray, rows: list[int], above: float) -> list[list[int]]:
    """Groups of at least two of ``rows`` linked by cosines of at least ``above`` (single linkage), in the order
    of their first row.

    Syndicated copies of a claim must share a theme, but two copies of an idea nothing else that day says are
    too few for a cluster (``min_cluster_size``) and may be too far from every theme to join one. In the theme
    space such copies sit at 0.8 and above, while the closest pair of claims from distinct ideas that are each
    other's nearest neighbour came to 0.61 (in 80 ideas the encoder never saw) and 0.44 (``tuning.jsonl``).
    """
    if len(rows) < 2:
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    k = min(len(rows), COPY_NEIGHBOURS + 1)  # near neighbours only: memory stays linear in the leftovers
    sims, neighbours = nearest_neighbours(np.ascontiguousarray(vectors[rows], dtype=np.float32), k)
    keep = (sims >= above) & (neighbours >= 0)
    starts = np.repeat(np.arange(len(rows)), k)[keep.ravel()]
    close = coo_matrix((np.ones(len(starts)), (starts, neighbours[keep])), shape=(len(rows), len(rows)))
    _, component = connected_components(close, directed=False)
    groups: dict[int, list[int]] = {}
    for row, part in zip(rows, component, strict=True):
        groups.setdefault(int(part), []).append(row)
    return [members for members in groups.values() if len(members) >= 2]


def merge_close(vectors: np.ndarray, clusters: list[list[int]], above: float) -> list[list[int]]:
    """Clusters (lists of row indices) whose centroids have a cosine of at least ``above``, by average
    linkage, made one; in the order of each group's first cluster.

    Leaf clusters of a few claims are what a day needs to catch an idea with a handful of claims, but an idea
    with many claims that day has no density peaks inside it, and HDBSCAN's leaves cut it into arbitrary parts
    (four groups of 60 claims came out as seven themes). Their centroids nearly coincide, while distinct ideas
    stay below 0.9 in the theme space (the closest two of the evaluation set at 0.56, of ``tuning.jsonl`` at 0.34,
    of ``train.jsonl`` at 0.82), so merging the parts back changes nothing on the labelled sets.
    """
    if len(clusters) < 2:
        return clusters
    from scipy.cluster.hierarchy import fcluster, linkage

    middles = np.vstack([centroid(vectors[members]) for members in clusters]).astype(np.float64)
    groups = fcluster(linkage(middles, method="average", metric="cosine"), 1.0 - above, criterion="distance")
    merged: dict[int, list[int]] = {}
    for members, group in zip(clusters, groups, strict=True):
        merged.setdefault(int(group), []).extend(members)
    return list(merged.values())


@dataclass(frozen=True)
class Remap:
    """How a full re-clustering maps onto the themes that exist, without renumbering them.

    ``assign`` gives the theme each moved claim now belongs to: an existing id, or ``-(k + 1)`` for the k-th of
    ``new_themes`` (ids to be allocated). ``merges`` are whole themes absorbed into another (old, new);
    ``splits`` are (old, new, claims) parts of a theme that now belong elsewhere, ``new`` possibly a placeholder.
    Claims the clustering leaves as noise keep their theme.
    """

    assign: dict[int, int]
    merges: list[tuple[int, int]]
    splits: list[tuple[int, int, int]]
    new_themes: int


def remap(current: list[int | None], labels: np.ndarray) -> Remap:
    """Map clusters (``labels``, -1 noise) onto current themes (``current``, None unthemed), deterministically."""
    from collections import Counter

    clusters = sorted(set(labels.tolist()) - {-1})
    members = {c: np.flatnonzero(labels == c).tolist() for c in clusters}
    per_cluster = {c: Counter(current[i] for i in members[c] if current[i] is not None) for c in clusters}
    primary: dict[int, int] = {}  # theme -> the cluster holding most of its claims
    for theme in sorted({t for t in current if t is not None}):
        holding = [(per_cluster[c][theme], -c) for c in clusters if per_cluster[c][theme]]
        if holding:
            primary[theme] = -max(holding)[1]
    assign: dict[int, int] = {}
    merges: list[tuple[int, int]] = []
    splits: Counter[tuple[int, int]] = Counter()
    new_themes = 0
    for c in clusters:
        owners = sorted((t for t, p in primary.items() if p == c), key=lambda t: (-per_cluster[c][t], t))
        if owners:
            target = owners[0]
            merges += [(t, target) for t in owners[1:]]
        else:
            new_themes += 1
            target = -new_themes
        absorbed = set(owners)
        for i in members[c]:
            theme = current[i]
            if theme == target or theme in absorbed:
                continue  # already there, or comes along with its whole theme
            assign[i] = target
            if theme is not None:
                splits[(theme, target)] += 1
    return Remap(assign, merges, sorted((o, n, k) for (o, n), k in splits.items()), new_themes)
