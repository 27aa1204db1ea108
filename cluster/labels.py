"""Theme labels: class-based TF-IDF key phrases and the most representative claim."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

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
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']+|\"")
_LINKS = {"of"}  # "the Android of AI", "the Detroit of robots"


def terms(text: str) -> list[str]:
    """Key-phrase candidates in a claim: words, pairs of adjacent words, "X of Y" phrases and quoted phrases.

    Words every claim in this domain uses (China, AI, model...) and stop words are left out alone, but a
    metaphor keeps them: "android of ai" is a phrase, as is any two- to four-word phrase the source quotes.
    """
    tokens = _WORD.findall(text)
    quoted: list[str] = []
    words: list[str] = []
    inside: list[str] | None = None
    for token in tokens:
        if token == '"':
            if inside is not None and 2 <= len(inside) <= 4:
                quoted.append(" ".join(inside))
            inside = None if inside is not None else []
            continue
        word = token.lower().strip("'-").removesuffix("'s")
        words.append(word)
        if inside is not None:
            inside.append(word)
    usable = [w not in _STOP and len(w) > 2 for w in words]
    unigrams = [w for w, ok in zip(words, usable, strict=True) if ok and w not in _GENERIC]
    bigrams = [
        f"{a} {b}"
        for (a, ok_a), (b, ok_b) in itertools.pairwise(zip(words, usable, strict=True))
        if ok_a and ok_b and not (a in _GENERIC and b in _GENERIC)
    ]
    linked = [
        f"{words[i - 1]} {words[i]} {words[i + 1]}"
        for i in range(1, len(words) - 1)
        if words[i] in _LINKS
        and usable[i - 1]
        and words[i - 1] not in _GENERIC
        and (usable[i + 1] or words[i + 1] in _GENERIC)
    ]
    return unigrams + bigrams + linked + quoted


def _is_phrase(term: str) -> bool:
    return " " in term


def score_terms(counts: Mapping[str, int], frequency: Mapping[str, int], average: float, top: int = 6) -> list[str]:
    """Top key phrases of one theme (c-TF-IDF): its term counts weighted against every theme's (``frequency``:
    a term's count over all themes; ``average``: the mean number of terms per theme)."""
    size = max(1, sum(counts.values()))
    scored = []
    for term, tf in counts.items():
        weight = (tf / size) * math.log(1 + average / max(frequency.get(term, tf), tf))
        if _is_phrase(term):
            weight *= 1.5 if tf > 1 else 0.5  # a phrase several claims repeat is the theme's own wording
        scored.append((-weight, term))
    scored.sort()
    chosen: list[str] = []
    for _, term in scored:
        if any(term in kept or kept in term for kept in chosen):
            continue
        chosen.append(term)
        if len(chosen) == top:
            break
    return chosen


def keywords(groups: Sequence[Sequence[str]], top: int = 6) -> list[list[str]]:
    """Top key phrases per group of texts, weighted against all groups (c-TF-IDF)."""
    counts = [Counter(t for text in group for t in terms(text)) for group in groups]
    frequency: Counter[str] = Counter()
    for c in counts:
        frequency.update(c)
    average = max(1.0, sum(sum(c.values()) for c in counts) / max(len(groups), 1))
    return [score_terms(c, frequency, average, top) for c in counts]


def label_from(keyphrases: Sequence[str]) -> str:
    """A short label: the leading key phrase, with a second (or two more words) where it is a single word."""
    if not keyphrases:
        return "unlabelled theme"
    picked = list(keyphrases[:3]) if not _is_phrase(keyphrases[0]) else list(keyphrases[:2])
    return " · ".join(picked)
