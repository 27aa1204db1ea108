"""Feed parsing: RSS, Atom and podcast feeds from bytes we fetched (never from a URL)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from core.errors import PermanentError

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_TIMED_TYPES = ("text/vtt", "application/x-subrip", "application/srt", "text/srt", "application/json")


@dataclass(frozen=True)
class TranscriptLink:
    url: str
    mime_type: str
    rel: str | None = None


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    link: str | None
    title: str
    published: datetime | None
    author: str | None
    summary: str
    content_html: str | None
    enclosure_url: str | None
    transcripts: tuple[TranscriptLink, ...]


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    entries: tuple[FeedEntry, ...]
    bozo: str | None  # why the feed was ill-formed, if it was


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC).replace(tzinfo=None)
    return None


def _transcripts(entry: Any) -> tuple[TranscriptLink, ...]:
    raw = entry.get("podcast_transcript")
    found = []
    # feedparser keeps only the last <podcast:transcript> as a dict; links with rel also appear there.
    for item in raw if isinstance(raw, list) else ([raw] if raw else []):
        url = item.get("url")
        if url:
            found.append(TranscriptLink(url, (item.get("type") or "").lower(), item.get("rel")))
    return tuple(sorted(found, key=lambda t: (t.mime_type not in _TIMED_TYPES, t.url)))


def parse_feed(data: bytes) -> ParsedFeed:
    """Parse feed bytes; ill-formed feeds keep whatever entries could be read."""
    if _ENTITY_DECL.search(data[:65536]):
        raise PermanentError("feed declares XML entities; refused (entity expansion attack guard)")
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=True)
    if not parsed.entries and parsed.get("bozo"):
        raise PermanentError(f"not a readable feed: {parsed.get('bozo_exception')}")
    entries = []
    for entry in parsed.entries:
        content = entry.get("content")
        enclosure = next((link.get("href") for link in entry.get("links", []) if link.get("rel") == "enclosure"), None)
        entries.append(
            FeedEntry(
                guid=entry.get("id") or None,
                link=entry.get("link") or None,
                title=(entry.get("title") or "").strip(),
                published=_when(entry),
                author=entry.get("author") or None,
                summary=entry.get("summary") or "",
                content_html=content[0].get("value") if content else None,
                enclosure_url=enclosure,
                transcripts=_transcripts(entry),
            )
        )
    feed = parsed.get("feed", {})
    return ParsedFeed(
        title=(feed.get("title") or "").strip(),
        link=feed.get("link"),
        entries=tuple(entries),
        bozo=str(parsed.get("bozo_exception")) if parsed.get("bozo") else None,
    )
