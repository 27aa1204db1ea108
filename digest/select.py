"""Choosing the day's five insights: one per theme, ranked by echo, momentum, novelty and claim quality, kept
diverse (maximal marginal relevance over theme centroids), and filtered by a subscriber's preferences."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from core.models import DigestItem, SourceRef

ITEMS = 5
SOURCES_PER_ITEM = 3
RELATED = 3


@dataclass(frozen=True)
class Candidate:
    """A themed claim with its provenance, as the selector sees it."""

    claim_id: str
    theme_id: int
    text: str
    score: float
    similarity: float
    is_new: bool
    source_key: str
    day: date | None
    ref: SourceRef
    idea: str = ""  # the claim this one repeats word for word (its own id when original): counted once
    actors: tuple[str, ...] = ()  # CN, US

    @property
    def idea_key(self) -> str:
        return self.idea or self.claim_id

    @property
    def reads_as_insight(self) -> bool:
        """A sentence, not a headline: ends like one and is not the title of its own document."""
        text = self.text.strip()
        return text.rstrip("\"'”’)").endswith((".", "!", "?")) and text != (self.ref.title or "").strip()


@dataclass(frozen=True)
class ThemeInfo:
    theme_id: int
    label: str
    recently_featured: bool = False  # in one of the last few briefs
    momentum: float | None = None  # the day's share against its trailing baseline; None: no history to compare
    centroid: tuple[float, ...] | None = None
    led_last_brief: bool = False


@dataclass(frozen=True)
class Preferences:
    """A subscriber's choices: actors to focus on (CN, US or both) and themes to follow or mute."""

    focus: str = "both"
    follow: frozenset[int] = frozenset()
    mute: frozenset[int] = frozenset()


EVERYONE = Preferences()
DIVERSITY = 0.3  # weight of the redundancy penalty against a theme's (normalised) score
RISING = 1.5  # momentum from which a theme counts as rising


def _momentum_factor(info: ThemeInfo) -> float:
    if info.momentum is None:
        return 1.0
    return min(1.8, max(0.6, 1 + 0.35 * math.log(info.momentum)))


def _theme_score(members: list[Candidate], info: ThemeInfo, preferences: Preferences) -> float:
    new = [c for c in members if c.is_new]
    ideas = len({c.idea_key for c in new})  # a repeated insight counts once
    sources = len({c.source_key for c in members})
    days = len({c.day for c in members if c.day})
    quality = max(c.score for c in new)
    score = math.log1p(ideas) * (1 + math.log1p(sources)) * (1 + 0.25 * math.log1p(days)) * quality
    score *= _momentum_factor(info)
    if info.recently_featured:
        score *= 0.5
    if info.theme_id in preferences.follow:
        score *= 1.5
    return score


@dataclass(frozen=True)
class ThemeScore:
    """How the selector weighed one theme (for operators and the closing of a day: why these five)."""

    theme_id: int
    label: str
    new_ideas: int
    sources: int
    days: int
    quality: float
    momentum: float | None
    recently_featured: bool
    score: float
    chosen_rank: int | None


def explain(
    candidates: list[Candidate],
    themes: dict[int, ThemeInfo],
    excluded_claims: frozenset[str] = frozenset(),
    preferences: Preferences = EVERYONE,
) -> list[ThemeScore]:
    """Every theme with something new, its score's parts and the place it got (None: not in the five)."""
    chosen = {item.theme_id: item.rank for item in select_items(candidates, themes, excluded_claims, preferences)}
    out = []
    for theme_id, (members, new) in _pools(candidates, themes, excluded_claims, preferences).items():
        info = themes[theme_id]
        out.append(
            ThemeScore(
                theme_id,
                info.label,
                len({c.idea_key for c in new}),
                len({c.source_key for c in members}),
                len({c.day for c in members if c.day}),
                max(c.score for c in new),
                info.momentum,
                info.recently_featured,
                _theme_score(members, info, preferences),
                chosen.get(theme_id),
            )
        )
    return sorted(out, key=lambda t: (-t.score, t.theme_id))


def _cosine(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> float:
    if not a or not b or len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _diverse_order(ranked: list[tuple[float, int]], themes: dict[int, ThemeInfo], count: int) -> list[int]:
    """Maximal marginal relevance: each next theme maximises its score minus its closeness to those chosen.

    ``ranked`` is (score, theme_id), best first. The lead may not be a theme that led the last brief unless it
    is rising; it still competes for the other places.
    """
    if not ranked:
        return []
    top = ranked[0][0] or 1.0
    chosen: list[int] = []
    for _ in range(min(count, len(ranked))):
        best: tuple[float, int] | None = None
        for score, theme_id in ranked:
            if theme_id in chosen:
                continue
            info = themes[theme_id]
            if not chosen and info.led_last_brief and (info.momentum or 0.0) < RISING and len(ranked) > 1:
                continue
            redundancy = max((_cosine(info.centroid, themes[c].centroid) for c in chosen), default=0.0)
            value = (1 - DIVERSITY) * score / top - DIVERSITY * max(0.0, redundancy)
            if best is None or value > best[0] or (value == best[0] and theme_id < best[1]):
                best = (value, theme_id)
        if best is None:
            break
        chosen.append(best[1])
    return chosen


def _wanted(candidate: Candidate, preferences: Preferences) -> bool:
    if candidate.theme_id in preferences.mute:
        return False
    return preferences.focus == "both" or preferences.focus in candidate.actors


def _why(fresh: list[Candidate], info: ThemeInfo, followed: bool) -> str:
    new_count = len({c.idea_key for c in fresh})
    new_sources = len({c.source_key for c in fresh})
    reason = (
        f"{new_count} new claim{'s' if new_count != 1 else ''} on this theme since the last brief, "
        f"from {new_sources} source{'s' if new_sources != 1 else ''}"
    )
    if info.momentum is not None and info.momentum >= RISING:
        reason += f"; rising: {info.momentum:.1f}x its share of the two weeks before"
    if followed:
        reason += "; a theme you follow"
    return reason


def _pools(
    candidates: list[Candidate],
    themes: dict[int, ThemeInfo],
    excluded_claims: frozenset[str],
    preferences: Preferences,
) -> dict[int, tuple[list[Candidate], list[Candidate]]]:
    """Per theme with something new for this reader: (every wanted claim, the new ones never featured), claims
    in claim id order so that nothing depends on the input's order."""
    by_theme: dict[int, list[Candidate]] = defaultdict(list)
    for c in sorted(candidates, key=lambda c: c.claim_id):
        if c.theme_id in themes and _wanted(c, preferences):
            by_theme[c.theme_id].append(c)
    pools = {}
    for theme_id, members in by_theme.items():
        fresh = [
            c for c in members if c.is_new and c.claim_id not in excluded_claims and c.idea_key not in excluded_claims
        ]
        if fresh:
            pools[theme_id] = (members, fresh)
    return pools


def _headline(label: str) -> str:
    text = label.replace(" · ", ", ")
    return text[:1].upper() + text[1:]


def select_items(
    candidates: list[Candidate],
    themes: dict[int, ThemeInfo],
    excluded_claims: frozenset[str] = frozenset(),
    preferences: Preferences = EVERYONE,
) -> list[DigestItem]:
    """Up to five items from five different themes; deterministic for the same input in any order."""
    pools = _pools(candidates, themes, excluded_claims, preferences)
    scored = sorted(
        ((_theme_score(members, themes[t], preferences), t) for t, (members, _) in pools.items()),
        key=lambda r: (-r[0], r[1]),
    )
    items = []
    for rank, theme_id in enumerate(_diverse_order(scored, themes, ITEMS), start=1):
        members, fresh = pools[theme_id]
        insights = [c for c in fresh if c.reads_as_insight] or fresh
        lead = max(insights, key=lambda c: (c.score * (0.5 + c.similarity), c.claim_id))
        refs, seen_sources = [lead.ref], {lead.source_key}
        others = sorted(members, key=lambda c: (-c.score, c.claim_id))
        for other in others:
            if len(refs) == SOURCES_PER_ITEM:
                break
            if other.source_key not in seen_sources:
                refs.append(other.ref)
                seen_sources.add(other.source_key)
        related_ideas: dict[str, str | None] = {lead.idea_key: None}
        for o in others:
            if (
                o.source_key != lead.source_key
                and o.text != lead.text
                and o.idea_key not in related_ideas
                and o.reads_as_insight
            ):
                related_ideas[o.idea_key] = o.text
        related = tuple(t for t in related_ideas.values() if t is not None)[:RELATED]
        items.append(
            DigestItem(
                rank=rank,
                theme_id=theme_id,
                claim_id=lead.claim_id,
                headline=_headline(themes[theme_id].label),
                text=lead.text,
                sources=tuple(refs),
                source_count=len({c.source_key for c in members}),
                day_count=len({c.day for c in members if c.day}),
                why=_why(fresh, themes[theme_id], theme_id in preferences.follow),
                related=related,
            )
        )
    return items
