"""Theme labels: class-based TF-IDF key phrases and the most representative claim."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

_STOP = set(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers him his how i if in into is it its itself just like make makes made more most much my no nor not
    now of off on once only or other our out over own same she should so some such than that the their theirs them
    then there these they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours one two new even still may might must many way ways well us say says
    said according rather instead whether already become becomes across around within without onto per via""".split()
)
# Words every claim in this domain uses: they say nothing about which theme a claim belongs to.
_GENERIC = set(
    """china chinese beijing american america americans washington united states u.s ai artificial intelligence
    model models open company companies firm firms lab labs technology tech country countries global world
    government industry market markets year years time people""".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']+")


def _terms(text: str) -> list[str]:
    words = [w.lower().strip("'-").removesuffix("'s") for w in _WORD.findall(text)]
    usable = [w not in _STOP and len(w) > 2 for w in words]
    unigrams = [w for w, ok in zip(words, usable, strict=True) if ok and w not in _GENERIC]
    bigrams = [
        f"{a} {b}"
        for (a, ok_a), (b, ok_b) in itertools.pairwise(zip(words, usable, strict=True))
        if ok_a and ok_b and not (a in _GENERIC and b in _GENERIC)
    ]
    return unigrams + bigrams


def keywords(groups: Sequence[Sequence[str]], top: int = 6) -> list[list[str]]:
    """Top key phrases per group of texts, weighted against all groups (c-TF-IDF)."""
    counts = [Counter(t for text in group for t in _terms(text)) for group in groups]
    total_docs = len(groups)
    frequency: Counter[str] = Counter()
    for c in counts:
        frequency.update(c)
    average = max(1.0, sum(sum(c.values()) for c in counts) / max(total_docs, 1))
    result = []
    for c in counts:
        size = max(1, sum(c.values()))
        scored = []
        for term, tf in c.items():
            weight = (tf / size) * math.log(1 + average / frequency[term])
            if " " in term:
                weight *= 1.5 if tf > 1 else 0.5
            scored.append((-weight, term))
        scored.sort()
        chosen: list[str] = []
        for _, term in scored:
            if any(term in kept or kept in term for kept in chosen):
                continue
            chosen.append(term)
            if len(chosen) == top:
                break
        result.append(chosen)
    return result


def label_from(keyphrases: Sequence[str]) -> str:
    """A short label: the top two or three key phrases."""
    picked = list(keyphrases[:3]) if keyphrases and " " not in keyphrases[0] else list(keyphrases[:2])
    return " · ".join(picked) if picked else "unlabelled theme"
