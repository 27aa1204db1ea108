"""Keys and near-duplicate detection: canonical URLs, content hashes and MinHash signatures."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

NUM_PERM = 64
BANDS = 16  # LSH: 16 bands of 4 rows find pairs above ~0.85 overlap with near certainty
SHINGLE = 5
NEAR_DUPLICATE = 0.85
_TRACKING = re.compile(r"^(?:utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|ref_src|cmpid|mkt_tok|_hsenc|_hsmi)$", re.I)
# Universal hashing (a*x + b) mod p with p = 2**31 - 1: every product fits in 64 bits, so nothing overflows.
_PRIME = np.uint64((1 << 31) - 1)
_RNG = np.random.default_rng(20261122)
_A = _RNG.integers(1, (1 << 31) - 1, NUM_PERM, dtype=np.uint64)
_B = _RNG.integers(0, (1 << 31) - 1, NUM_PERM, dtype=np.uint64)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, no tracking parameters, sorted query."""
    parts = urlsplit(url.strip())
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


def normalise_text(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def content_hash(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def _shingle_hashes(text: str) -> np.ndarray:
    words = normalise_text(text).split()
    if len(words) < SHINGLE:
        words = words + [""] * (SHINGLE - len(words))
    grams = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    values = [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams]
    return np.array(sorted(values), dtype=np.uint64)


def minhash(text: str) -> list[int]:
    """A MinHash signature of the text's word 5-shingles."""
    shingles = _shingle_hashes(text)
    hashed = (np.outer(shingles % _PRIME, _A) + _B) % _PRIME
    return [int(v) for v in hashed.min(axis=0)]


def lsh_bands(signature: list[int]) -> list[tuple[int, int]]:
    """(band, bucket) keys: two signatures that agree on every row of one band share that key."""
    rows = len(signature) // BANDS
    out = []
    for band in range(BANDS):
        chunk = ",".join(str(v) for v in signature[band * rows : (band + 1) * rows])
        out.append((band, int.from_bytes(hashlib.blake2b(chunk.encode(), digest_size=8).digest(), "little")))
    return out


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(np.asarray(a, dtype=np.uint64) == np.asarray(b, dtype=np.uint64)))


def find_duplicate(signature: list[int], candidates: list[tuple[str, list[int]]]) -> str | None:
    """The id of the first candidate whose text is a near-duplicate, in the candidates' order."""
    if not candidates:
        return None
    matrix = np.asarray([sig for _, sig in candidates], dtype=np.uint64)
    scores = (matrix == np.asarray(signature, dtype=np.uint64)).mean(axis=1)
    hits = np.flatnonzero(scores >= NEAR_DUPLICATE)
    return candidates[int(hits[0])][0] if hits.size else None
