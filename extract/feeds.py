"""Feed parsing: RSS, Atom and podcast feeds from bytes we fetched (never from a URL)."""

from __future__ import annotations

import calendar
import io
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat

import feedparser

from core.errors import PermanentError

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
    persons: tuple[tuple[str, str], ...] = ()  # (role, name) from <podcast:person>
    chapters_url: str | None = None
    duration: float | None = None  # seconds, from <itunes:duration>


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
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC).replace(tzinfo=None)
            except (OverflowError, ValueError, OSError):
                continue  # a date beyond what a timestamp holds (year 9999 with a negative offset, …)
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


@dataclass(frozen=True)
class _PodcastItem:
    transcripts: tuple[TranscriptLink, ...]
    persons: tuple[tuple[str, str], ...]
    chapters_url: str | None
    duration: float | None


def _local(tag: object) -> tuple[str, str]:
    """(namespace, local name) of an lxml tag."""
    text = tag if isinstance(tag, str) else ""
    if text.startswith("{"):
        namespace, _, name = text[1:].partition("}")
        return namespace, name
    return "", text


def _duration(value: str | None) -> float | None:
    if not value or not value.strip():
        return None
    try:
        parts = [float(p) for p in value.strip().split(":")]
    except ValueError:
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def _podcast_items(data: bytes) -> dict[str, _PodcastItem]:
    """What feedparser drops of the podcast namespace (every <podcast:transcript>, <podcast:person>,
    <podcast:chapters>) and <itunes:duration>, per item, keyed by GUID and by link. The body has passed the
    entity check; lxml reads it leniently, with no entities resolved and no network."""
    from lxml import etree

    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return {}
    if root is None:
        return {}
    found: dict[str, _PodcastItem] = {}
    link_counts: dict[str, int] = {}
    for item in root.iter("item"):
        keys, transcripts, persons, chapters, duration = [], [], [], None, None
        for child in item:
            namespace, name = _local(child.tag)
            text = (child.text or "").strip()
            if not namespace and name == "guid" and text:
                keys.append(text)
            elif not namespace and name == "link" and text:
                keys.append("link:" + text)
                link_counts[text] = link_counts.get(text, 0) + 1
            elif "podcast" in namespace.lower() and "itunes" not in namespace:
                if name == "transcript" and _web_url(child.get("url")):
                    rel = child.get("rel")
                    transcripts.append(TranscriptLink(child.get("url"), (child.get("type") or "").lower(), rel))
                elif name == "person" and text:
                    persons.append(((child.get("role") or "host").lower(), text))
                elif name == "chapters" and child.get("url"):
                    chapters = child.get("url")
            elif "itunes" in namespace and name == "duration":
                duration = _duration(text)
        details = _PodcastItem(_ordered(transcripts), tuple(persons), chapters, duration)
        for key in keys:
            found.setdefault(key, details)
    # A link shared by several items (the show's home page) identifies none of them.
    return {k: v for k, v in found.items() if not k.startswith("link:") or link_counts.get(k[5:], 0) == 1}


def _web_url(value: str | None) -> bool:
    """http(s) or relative: the only transcript links worth keeping (file:, ftp:, data: never are)."""
    if not value:
        return False
    try:
        return urlsplit(value).scheme in ("", "http", "https")
    except ValueError:
        return False


def _ordered(links: list[TranscriptLink]) -> tuple[TranscriptLink, ...]:
    """Timed formats first (WebVTT, SRT, JSON), then HTML, then the rest, each kept in feed order."""

    def rank(link: TranscriptLink) -> int:
        kind = link.mime_type
        if "vtt" in kind or "srt" in kind or "subrip" in kind:
            return 0
        if "json" in kind:
            return 1
        return 2 if "html" in kind else 3

    return tuple(sorted(links, key=rank))


def _json_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _json_author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    names = (
        [str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")] if isinstance(authors, list) else []
    )
    return ", ".join(names) or None


def parse_json_feed(data: bytes) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), which feedparser does not read."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PermanentError(f"not a readable JSON feed: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith("https://jsonfeed.org/"):
        raise PermanentError("not a JSON feed (no jsonfeed.org version)")
    entries = []
    items = document.get("items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        html = item.get("content_html")
        text = item.get("content_text")
        raw_attachments = item.get("attachments")
        attachments = [a for a in raw_attachments if isinstance(a, dict)] if isinstance(raw_attachments, list) else []
        audio = next((a.get("url") for a in attachments if str(a.get("mime_type", "")).startswith("audio/")), None)
        entries.append(
            FeedEntry(
                guid=str(item["id"]) if item.get("id") is not None else None,
                link=item.get("url") or item.get("external_url") or None,
                title=str(item.get("title") or "").strip(),
                published=_json_date(item.get("date_published") or item.get("date_modified")),
                author=_json_author(item) or _json_author(document),
                summary=str(item.get("summary") or ""),
                content_html=html
                if isinstance(html, str)
                else (_text_as_html(text) if isinstance(text, str) else None),
                enclosure_url=audio,
                transcripts=(),
            )
        )
    return ParsedFeed(str(document.get("title") or "").strip(), document.get("home_page_url"), tuple(entries), None)


def _text_as_html(text: str) -> str:
    return "".join(f"<p>{escape(p)}</p>" for p in text.split("\n") if p.strip())


def absolute(base: str | None, link: str | None) -> str | None:
    """A link resolved against the feed's URL when it is relative; anything unparseable is left as it is."""
    if not link:
        return None
    try:
        if urlsplit(link).scheme or not base:
            return link
        return urljoin(base, link)
    except ValueError:
        return link


class _Verdict(Exception):
    def __init__(self, declares: bool) -> None:
        self.declares = declares


def _raise(declares: bool) -> Any:
    def handler(*args: Any) -> None:
        raise _Verdict(declares)

    return handler


_DECLARED_ENCODING = re.compile(rb"""^[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:\-]+)["']""")
_FALLBACK_ENCODINGS = ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-7", "cp037", "cp500")


def declares_entities(data: bytes) -> bool:
    """Whether an XML document declares entities (entity expansion, XXE), read the way an XML parser reads it.

    expat reads the prolog in the document's own encoding and stops at the first element (declarations can
    only come before it). When expat cannot read the prolog (an encoding it lacks, such as UTF-7 or EBCDIC,
    or a broken prolog, which lenient parsers still read), the body is searched in every encoding a parser
    might apply, and any hit refuses it.
    """
    parser = expat.ParserCreate()
    parser.EntityDeclHandler = _raise(True)
    parser.StartElementHandler = _raise(False)
    try:
        parser.Parse(data, True)
    except _Verdict as verdict:
        return verdict.declares
    except (expat.ExpatError, ValueError, LookupError):
        pass
    declared = _DECLARED_ENCODING.search(data.lstrip(b"\xef\xbb\xbf"))
    encodings = list(_FALLBACK_ENCODINGS)
    if declared:
        encodings.append(declared.group(1).decode("ascii", "ignore"))
    for encoding in encodings:
        try:
            text = data.decode(encoding, errors="ignore")
        except LookupError:
            continue
        if "<!ENTITY" in text.upper():
            return True
    return False


# Warnings that leave a feed perfectly readable (a wrong charset label, a text/plain content type).
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(data: bytes, url: str | None = None) -> ParsedFeed:
    """Parse RSS, Atom or JSON Feed bytes; ill-formed feeds keep whatever entries could be read.

    ``url`` is where the feed came from: relative links in it are resolved against it.
    """
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return parse_json_feed(data)
    if declares_entities(data):
        raise PermanentError("feed declares XML entities; refused (entity expansion attack guard)")
    if not data.strip():
        raise PermanentError("not a readable feed: the response is empty")
    # A file object, never bytes or a string: feedparser would take those for a file name or URL to open.
    # No base URL either: feedparser would resolve GUIDs too, and GUIDs must not depend on where a feed lives.
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=True, resolve_relative_uris=True)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.entries and problem is not None and not isinstance(problem, _BENIGN_BOZO):
        raise PermanentError(f"not a readable feed: {problem}")
    if not parsed.entries and not parsed.get("version"):
        raise PermanentError("not a readable feed: no RSS, Atom or JSON Feed found")
    podcast = _podcast_items(data) if b"podcast" in data or b"itunes" in data else {}
    entries = []
    for entry in parsed.entries:
        details = podcast.get(entry.get("id") or "") or podcast.get("link:" + (entry.get("link") or ""))
        content = entry.get("content")
        enclosure = next((link.get("href") for link in entry.get("links", []) if link.get("rel") == "enclosure"), None)
        entries.append(
            FeedEntry(
                guid=entry.get("id") or None,
                link=absolute(url, entry.get("link")),
                title=(entry.get("title") or "").strip(),
                published=_when(entry),
                author=entry.get("author") or None,
                summary=entry.get("summary") or "",
                content_html=content[0].get("value") if content else None,
                enclosure_url=absolute(url, enclosure),
                transcripts=tuple(
                    replace(t, url=absolute(url, t.url) or t.url)
                    for t in (details.transcripts if details and details.transcripts else _transcripts(entry))
                ),
                persons=details.persons if details else (),
                chapters_url=absolute(url, details.chapters_url) if details else None,
                duration=details.duration if details else None,
            )
        )
    feed = parsed.get("feed", {})
    return ParsedFeed(
        title=(feed.get("title") or "").strip(),
        link=feed.get("link"),
        entries=tuple(entries),
        bozo=str(parsed.get("bozo_exception")) if parsed.get("bozo") else None,
    )
