"""Language identification of document text (offline; the model ships inside py3langid)."""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

SAMPLE_CHARS = 4000
_LETTERS = re.compile(r"\w", re.UNICODE)
_LOAD = threading.Lock()


@cache
def _identifier() -> Any:
    """The model, loaded once: page extraction runs in several threads, and each load costs ~100 MiB."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)


def _model() -> Any:
    with _LOAD:
        return _identifier()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little text to tell."""
    sample = text[:SAMPLE_CHARS]
    if len(_LETTERS.findall(sample)) < 20:
        return None
    code, _ = _model().classify(sample)
    return str(code)
