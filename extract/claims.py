"""Claim extraction: sentences that assert something about China's or the US's AI strategy.

The path for every document:

1. split into sentences with character offsets (``extract/sentences.py``);
2. find the actors each sentence names with the gazetteer (``extract/actors.py``);
3. keep as *candidates* the sentences that could be about a Chinese or US actor: one is named in the
   sentence, or the sentence refers back ("This approach ...", "they", "its", "the company", "we") to one named
   in the sentence before or to the actor a whole official text speaks for ("The Order directs ..."). Nothing
   else can become a claim, so the rest costs nothing more;
4. a *judge* decides each candidate: by default the local classifier (``extract/claim_model.py``) over
   hashed lexical features and, when the caller supplies vectors, the sentence embedding; optionally a
   language model behind the same interface (``extract/llm.py``). Questions, page furniture and off-topic
   news (trade, borders, goods, politics with nothing about AI or chips) are refused whatever the judge says;
5. accepted sentences become claims: an anaphoric sentence carries the sentence before it (a two-sentence
   claim, so ``text`` reads on its own), actors are resolved (named subjects, else the referent before, else
   the document's voice), the type comes from the model and hedging from the wording.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from core.ids import stable_id
from core.models import Claim, SegmentSpan
from extract.actors import Mention, actors_of, entities_of, find_mentions
from extract.claim_features import (
    AI_TERMS,
    ANAPHORA,
    FURNITURE,
    OFF_TOPIC_TERMS,
    REFERRING,
    WE_VOICE,
    Candidate,
    hashed_features,
)
from extract.claim_model import ClaimModel, default_model
from extract.sentences import Sentence, split_sentences

MIN_WORDS = 3
MAX_WORDS = 120
VOICE_SHARE = 0.75  # a document "speaks as" an actor when at least this share of its mentions are that actor's
VOICE_MIN_MENTIONS = 3
VOICE_GOVERNMENT_SHARE = 0.1  # ... and at least this share are its government: an official text, not a company story
GOVERNMENTS = {"US government", "Chinese government"}

_HEDGES = re.compile(
    r"\b(?:may|might|could|perhaps|possibly|likely|unlikely|appears?|seems?|suggests?|arguably"
    r"|probably|potentially|I think|I believe|reportedly|allegedly)\b",
    re.IGNORECASE,
)
_RECOMMENDATION = re.compile(r"\b(?:should|must|ought to|needs? to|has to|have to)\b", re.IGNORECASE)
_FORECAST = re.compile(
    r"\b(?:will|won't|is going to|are going to|is set to|are set to|expected to|on track to|by 20\d\d)\b", re.IGNORECASE
)
_MARKUP = re.compile(r"^\s*(?:[-*+>#]+|\d+[.)])\s+|\*\*|__|(?<!\w)_(?=\w)|(?<=\w)_(?!\w)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Judgement:
    claim: bool
    score: float
    claim_type: str | None = None  # None: the extractor decides
    actors: tuple[str, ...] | None = None  # None: the extractor resolves them


class Judge(Protocol):
    """Decides which candidates are claims; one judgement per candidate, in order."""

    def judge(self, candidates: Sequence[Candidate]) -> list[Judgement]: ...


class LocalJudge:
    """The shipped classifier; uses the sentence embedding when ``embed`` is given."""

    def __init__(self, model: ClaimModel | None = None, embed: Embed | None = None) -> None:
        self.model = model or default_model()
        self.embed = embed

    def judge(self, candidates: Sequence[Candidate]) -> list[Judgement]:
        vectors = self.embed([c.text for c in candidates]) if self.embed and candidates else None
        out = []
        for i, candidate in enumerate(candidates):
            features = hashed_features(candidate)
            vector = None if vectors is None else vectors[i]
            p, accepted = self.model.claim_probability(features, vector, candidate.kind)
            kind = claim_type_of(candidate.text, self.model, features) if accepted else None
            out.append(Judgement(accepted, round(p, 4), kind))
        return out


@dataclass(frozen=True)
class Decision:
    """What the extractor decided about one sentence (for evaluation and for building claims)."""

    sentence: Sentence
    candidate: Candidate | None  # None: no actor in reach, never judged
    judgement: Judgement | None
    refused: str | None = None  # question | furniture | off-topic: refused whatever the judge said

    @property
    def accepted(self) -> bool:
        return self.judgement is not None and self.judgement.claim and self.refused is None


def claim_type_of(text: str, model: ClaimModel, features: dict[int, float]) -> str:
    """Modal cues decide first (a "should" is a recommendation, a "will" a forecast); the model decides the rest."""
    if _RECOMMENDATION.search(text):
        return "recommendation"
    if _FORECAST.search(text):
        return "forecast"
    return model.claim_type(features)


def is_boilerplate(sentence: str) -> bool:
    return bool(FURNITURE.search(sentence))


def is_off_topic(sentence: str) -> bool:
    """Trade, borders, goods, politics, markets ... and nothing about AI or chips: off-topic news, even about
    China or the US (the sentence before cannot make a tariff sentence about AI)."""
    return bool(OFF_TOPIC_TERMS.search(sentence)) and not AI_TERMS.search(sentence)


def refusal(sentence: str) -> str | None:
    """Why a sentence is refused whatever the judge says, or None."""
    if is_question(sentence):
        return "question"
    if is_boilerplate(sentence):
        return "furniture"
    if is_off_topic(sentence):
        return "off-topic"
    return None


def is_question(sentence: str) -> bool:
    return sentence.rstrip("\"'”’)*_ ").endswith("?")


def hedged(sentence: str) -> bool:
    return bool(_HEDGES.search(sentence))


def reader_text(quote: str) -> str:
    """The quote as a reader sees it: markdown list/quote markers, emphasis and link syntax removed."""
    lines = [_MARKUP.sub("", _LINK.sub(r"\1", line)).strip() for line in quote.splitlines()]
    return " ".join(" ".join(line for line in lines if line).split())


def document_voice(mentions: Sequence[Sequence[Mention]]) -> str | None:
    """The actor an official text speaks for: most of its mentions, a fair share of them its government."""
    counts = Counter(m.actor for found in mentions for m in found if m.actor)
    total = sum(counts.values())
    if total < VOICE_MIN_MENTIONS:
        return None
    actor, n = counts.most_common(1)[0]
    government = sum(1 for found in mentions for m in found if m.actor == actor and m.entity in GOVERNMENTS)
    official = government / total >= VOICE_GOVERNMENT_SHARE
    return actor if n / total >= VOICE_SHARE and official else None


def candidates_of(text: str, kind: str) -> tuple[list[Sentence], list[list[Mention]], list[Candidate | None]]:
    """Sentences, their mentions, and the candidate for each sentence that could be a claim (else None)."""
    sentences = split_sentences(text)
    mentions = [find_mentions(s.text) for s in sentences]
    voice = document_voice(mentions) if kind == "article" else None
    out: list[Candidate | None] = []
    for i, sentence in enumerate(sentences):
        words = len(sentence.text.split())
        before = sentences[i - 1].text if i else ""
        before_mentions = mentions[i - 1] if i else []
        named = any(m.actor for m in mentions[i])
        refers = bool(
            ANAPHORA.match(sentence.text) or REFERRING.search(sentence.text) or WE_VOICE.search(sentence.text)
        )
        reachable = named or (refers and (any(m.actor for m in before_mentions) or voice is not None))
        if MIN_WORDS <= words <= MAX_WORDS and reachable:
            referent: list[Mention] = []
            if ANAPHORA.match(sentence.text):
                referent = next((mentions[j] for j in range(i - 1, max(i - 4, -1), -1) if mentions[j]), [])
            out.append(Candidate(sentence.text, mentions[i], before, before_mentions, voice, kind, referent))
        else:
            out.append(None)
    return sentences, mentions, out


def decide(text: str, kind: str = "article", judge: Judge | None = None) -> list[Decision]:
    """The extractor's decision for every sentence of ``text``, in order."""
    sentences, _, candidates = candidates_of(text, kind)
    if not any(AI_TERMS.search(s.text) for s in sentences):  # nothing about AI or chips anywhere: off-topic news
        return [
            Decision(s, c, None, "off-topic" if c is not None else None)
            for s, c in zip(sentences, candidates, strict=True)
        ]
    judged = [c for c in candidates if c is not None]
    verdicts = iter((judge or LocalJudge()).judge(judged))
    decisions = []
    for sentence, candidate in zip(sentences, candidates, strict=True):
        if candidate is None:
            decisions.append(Decision(sentence, None, None))
            continue
        judgement = next(verdicts)
        decisions.append(Decision(sentence, candidate, judgement, refusal(sentence.text)))
    return decisions


def resolve_actors(candidate: Candidate, judgement: Judgement) -> tuple[str, ...]:
    """The judge's actors if it gave any; else the named subjects (with the referent before, for an anaphoric
    opener: the sentence before, or the nearest of the three before that names an actor), else the referent
    before, else the document's voice."""
    if judgement.actors:
        return judgement.actors
    direct = set(actors_of(list(candidate.mentions)))
    before = set(actors_of(list(candidate.context_mentions) or list(candidate.referent_mentions)))
    if direct:
        return tuple(sorted(direct | before)) if ANAPHORA.match(candidate.text) else tuple(sorted(direct))
    if before:
        return tuple(sorted(before))
    return (candidate.voice,) if candidate.voice else ()


def _span_at(spans: Sequence[SegmentSpan], starts: Sequence[int], char: int) -> SegmentSpan | None:
    """The segment in which the character at ``char`` was spoken (spans sorted by start_char)."""
    index = bisect_right(starts, char) - 1
    return spans[index] if index >= 0 else None


def extract_claims(
    document_id: str,
    text: str,
    spans: Sequence[SegmentSpan] = (),
    kind: str | None = None,
    judge: Judge | None = None,
) -> list[Claim]:
    """Claims in document order; ids are stable for the same document and span."""
    kind = kind or ("transcript" if spans else "article")
    decisions = decide(text, kind, judge)
    starts = [span.start_char for span in spans]
    claims: list[Claim] = []
    last_single: dict[int, int] = {}  # sentence index -> index in claims of a one-sentence claim
    for i, decision in enumerate(decisions):
        if not decision.accepted:
            continue
        candidate, judgement, sentence = decision.candidate, decision.judgement, decision.sentence
        assert candidate is not None and judgement is not None
        actors = resolve_actors(candidate, judgement)
        if not actors:
            continue
        mentions = list(candidate.mentions)
        start = sentence.start
        if i and ANAPHORA.match(sentence.text):  # "This approach ...": the claim reads with the sentence before
            previous = decisions[i - 1].sentence
            start = previous.start
            mentions = list(candidate.context_mentions) + mentions
            if i - 1 in last_single:  # the sentence before is a claim of its own: the two become one
                claims.pop(last_single.pop(i - 1))
        quote = text[start : sentence.end]
        span = _span_at(spans, starts, sentence.start) if spans else None
        claim_type = judgement.claim_type or claim_type_of(candidate.text, default_model(), hashed_features(candidate))
        if start == sentence.start:
            last_single[i] = len(claims)
        claims.append(
            Claim(
                claim_id=stable_id("clm", document_id, start, sentence.end),
                document_id=document_id,
                seq=0,
                text=reader_text(quote),
                quote=quote,
                start_char=start,
                end_char=sentence.end,
                actors=actors,
                entities=entities_of(mentions),
                claim_type=claim_type,
                hedged=hedged(quote),
                score=judgement.score,
                start_seconds=span.start_seconds if span else None,
                speaker=span.speaker if span else None,
            )
        )
    return [replace(c, seq=n) for n, c in enumerate(claims)]
