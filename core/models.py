"""Plain, frozen data passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Source:
    source_id: str
    name: str
    kind: str  # "news" or "podcast"
    url: str
    country: str | None = None
    owner: str | None = None
    state_affiliated: bool | None = None


@dataclass(frozen=True)
class Segment:
    """A timed stretch of speech in a transcript."""

    start: float | None  # None in untimed (plain text, Markdown) transcripts
    end: float | None
    speaker: str | None
    text: str


@dataclass(frozen=True)
class SegmentSpan:
    """Where a transcript segment sits in the document text."""

    start_seconds: float | None
    end_seconds: float | None
    speaker: str | None
    start_char: int
    end_char: int


@dataclass(frozen=True)
class Document:
    document_id: str
    source_id: str | None
    kind: str  # "article" or "transcript"
    url: str | None
    title: str
    published_at: datetime | None
    language: str | None
    text: str
    guid: str | None = None
    author: str | None = None
    audio_url: str | None = None
    extraction: str = "page"  # page | feed | file | transcript
    spans: tuple[SegmentSpan, ...] = ()
    site_name: str | None = None
    date_source: str | None = None  # feed | page: where published_at came from
    duration_seconds: float | None = None
    people: tuple[str, ...] = ()  # "role: name"
    chapters_url: str | None = None
    transcript_format: str | None = None


@dataclass(frozen=True)
class Claim:
    claim_id: str
    document_id: str
    seq: int
    text: str
    quote: str
    start_char: int
    end_char: int
    actors: tuple[str, ...]
    entities: tuple[str, ...]
    claim_type: str  # thesis | fact | forecast | recommendation
    hedged: bool
    score: float
    start_seconds: float | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class SourceRef:
    """One attribution line under a digest item."""

    outlet: str
    title: str
    url: str | None
    published: date | None
    kind: str
    speaker: str | None = None
    start_seconds: float | None = None


@dataclass(frozen=True)
class DigestItem:
    rank: int
    theme_id: int
    claim_id: str
    headline: str
    text: str
    sources: tuple[SourceRef, ...]
    source_count: int
    day_count: int
    why: str
    related: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Digest:
    digest_date: date
    items: tuple[DigestItem, ...]
    title: str
