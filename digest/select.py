"""Choosing the day's five insights: one per theme, ranked by echo, freshness and claim quality."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from core.models import DigestItem, SourceRef

ITEMS = 5
SOURCES_PER_ITEM = 3


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

    @property
    def idea_key(self) -> str:
        return self.idea or self.claim_id


@dataclass(frozen=True)
class ThemeInfo:
    theme_id: int
    label: str
    recently_featured: bool = False


def _theme_score(members: list[Candidate], info: ThemeInfo) -> float:
    new = [c for c in members if c.is_new]
    ideas = len({c.idea_key for c in new})  # a repeated insight counts once
    sources = len({c.source_key for c in members})
    days = len({c.day for c in members if c.day})
    quality = max(c.score for c in new)
    score = math.log1p(ideas) * (1 + math.log1p(sources)) * (1 + 0.25 * math.log1p(days)) * quality
    return score * (0.5 if info.recently_featured else 1.0)


def _headline(label: str) -> str:
    text = label.replace(" · ", ", ")
    return text[:1].upper() + text[1:]


def select_items(
    candidates: list[Candidate], themes: dict[int, ThemeInfo], excluded_claims: frozenset[str] = frozenset()
) -> list[DigestItem]:
    """Up to five items from five different themes; deterministic for the same input in any order."""
    by_theme: dict[int, list[Candidate]] = defaultdict(list)
    for c in sorted(candidates, key=lambda c: c.claim_id):
        if c.theme_id in themes:
            by_theme[c.theme_id].append(c)
    ranked = []
    for theme_id, members in by_theme.items():
        fresh = [
            c for c in members if c.is_new and c.claim_id not in excluded_claims and c.idea_key not in excluded_claims
        ]
        if not fresh:
            continue
        ranked.append((-_theme_score(members, themes[theme_id]), theme_id, members, fresh))
    ranked.sort(key=lambda r: (r[0], r[1]))
    items = []
    for rank, (_, theme_id, members, fresh) in enumerate(ranked[:ITEMS], start=1):
        lead = max(fresh, key=lambda c: (c.score * (0.5 + c.similarity), c.claim_id))
        refs, seen_sources = [lead.ref], {lead.source_key}
        others = sorted(members, key=lambda c: (-c.score, c.claim_id))
        for other in others:
            if len(refs) == SOURCES_PER_ITEM:
                break
            if other.source_key not in seen_sources:
                refs.append(other.ref)
                seen_sources.add(other.source_key)
        related_ideas = {lead.idea_key: None}
        for o in others:
            if o.source_key != lead.source_key and o.text != lead.text and o.idea_key not in related_ideas:
                related_ideas[o.idea_key] = o.text
        related = tuple(t for t in related_ideas.values() if t is not None)[:2]
        sources = len({c.source_key for c in members})
        days = len({c.day for c in members if c.day})
        new_count = len({c.idea_key for c in fresh})
        new_sources = len({c.source_key for c in fresh})
        why = (
            f"{new_count} new claim{'s' if new_count != 1 else ''} on this theme since the last brief, "
            f"from {new_sources} source{'s' if new_sources != 1 else ''}"
        )
        items.append(
            DigestItem(
                rank=rank,
                theme_id=theme_id,
                claim_id=lead.claim_id,
                headline=_headline(themes[theme_id].label),
                text=lead.text,
                sources=tuple(refs),
                source_count=sources,
                day_count=days,
                why=why,
                related=related,
            )
        )
    return items
