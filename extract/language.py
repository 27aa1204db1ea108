"""Language identification of document text (offline; the model ships inside py3langid)."""

from __future__ import annotations

import re

SAMPLE_CHARS = 4000
_LETTERS = re.compile(r"\w", re.UNICODE)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little text to tell."""
    sample = text[:SAMPLE_CHARS]
    if len(_LETTERS.findall(sample)) < 20:
        return None
    import py3langid

    code, _ = py3langid.classify(sample)
    return str(code)
