"""Stable identifiers derived from content, so reruns produce the same ids."""

import hashlib


def stable_id(prefix: str, *parts: object, length: int = 16) -> str:
    """A short, deterministic id such as ``doc_3f2a...`` from the given parts."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}_{digest[:length]}"


def text_hash(text: str) -> str:
    """Hash of a text, used to key embedding caches and content dedupe."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
