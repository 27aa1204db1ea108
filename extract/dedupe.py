"""Keys and near-duplicate detection: canonical URLs, content hashes and MinHash signatures."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

NUM_PERM = 64
BANDS = 32  # LSH: 32 bands of 2 rows: pairs above ~0.4 Jaccard (copies with much furniture) share a bucket
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


@dataclass(frozen=True)
class Fingerprint:
    """A MinHash signature of a text's word 5-shingles, and how many distinct shingles it has."""

    signature: list[int]
    shingles: int


def fingerprint(text: str) -> Fingerprint:
    shingles = _shingle_hashes(text)
    hashed = (np.outer(shingles % _PRIME, _A) + _B) % _PRIME
    return Fingerprint([int(v) for v in hashed.min(axis=0)], len(shingles))


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


def overlap(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller text's shingles found in the other (containment).

    A syndicated copy keeps the story and swaps the page furniture around it: its Jaccard similarity to the
    original drops with every added line, while its containment stays high.
    """
    jaccard = similarity(a.signature, b.signature)
    smaller = max(1, min(a.shingles, b.shingles))
    return min(1.0, jaccard * (a.shingles + b.shingles) / ((1 + jaccard) * smaller))


def find_duplicate(print_: Fingerprint, candidates: list[tuple[str, Fingerprint]]) -> str | None:
    """The id of the first candidate that shares at least NEAR_DUPLICATE of the text, in the candidates' order."""
    for candidate_id, candidate in candidates:
        if overlap(print_, candidate) >= NEAR_DUPLICATE:
            return candidate_id
    return None
