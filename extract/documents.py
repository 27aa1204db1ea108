"""Building documents from feed entries, extracted pages and transcripts (pure)."""

from __future__ import annotations

from datetime import datetime

from core.ids import stable_id
from core.models import Document, Segment
from extract.articles import ArticleText, html_to_text
from extract.dedupe import canonical_url, content_hash
from extract.feeds import FeedEntry
from extract.language import detect_language
from extract.transcripts import join_segments

MIN_FEED_TEXT_WORDS = 40


def document_key(source_id: str | None, guid: str | None, url: str | None, text: str) -> str:
    """(feed, GUID), else the canonical URL, else a content hash."""
    if source_id and guid:
        return stable_id("doc", "guid", source_id, guid)
    if url:
        return stable_id("doc", "url", canonical_url(url))
    return stable_id("doc", "hash", content_hash(text))


def _stub(page_text: str, feed_text: str) -> bool:
    """A page that yielded a stub ("Please enable JavaScript", a paywall teaser) next to a full text in the feed."""
    page_words, feed_words = len(page_text.split()), len(feed_text.split())
    return page_words < 150 and feed_words >= max(MIN_FEED_TEXT_WORDS, 2 * page_words)


def article_document(source_id: str | None, entry: FeedEntry, page: ArticleText | None) -> Document | None:
    """The article's document: the extracted page, else the feed's own content when it has enough text."""
    feed_text = html_to_text(entry.content_html or entry.summary or "")
    if page is not None and not _stub(page.text, feed_text):
        text, extraction = page.text, "page"
    else:
        text, extraction = feed_text, "feed"
        if len(text.split()) < MIN_FEED_TEXT_WORDS:
            return None
    published, date_source = entry.published, "feed" if entry.published else None
    if published is None and page is not None and page.published is not None:
        published, date_source = page.published, "page"
    return Document(
        document_id=document_key(source_id, entry.guid, entry.link, text),
        source_id=source_id,
        kind="article",
        url=entry.link,
        title=entry.title or (page.title if page and page.title else "") or "(untitled)",
        published_at=published,
        language=page.language if page else detect_language(text),
        text=text,
        guid=entry.guid,
        author=entry.author or (page.author if page else None),
        extraction=extraction,
        site_name=page.sitename if page else None,
        date_source=date_source,
    )


def page_document(source_id: str | None, url: str | None, page: ArticleText, extraction: str = "page") -> Document:
    """A document from a single page or local file outside any feed."""
    return Document(
        document_id=document_key(source_id, None, url, page.text),
        source_id=source_id,
        kind="article",
        url=url,
        title=page.title or "(untitled)",
        published_at=page.published,
        language=page.language,
        text=page.text,
        author=page.author,
        extraction=extraction,
        site_name=page.sitename,
        date_source="page" if page.published else None,
    )


def transcript_document(
    source_id: str | None,
    segments: list[Segment],
    title: str,
    url: str | None,
    guid: str | None = None,
    published: datetime | None = None,
    audio_url: str | None = None,
    language: str | None = None,
    transcript_format: str | None = None,
    entry: FeedEntry | None = None,
) -> Document:
    """A podcast episode's document: the cleaned speech, with where each segment sits in it."""
    text, spans = join_segments(segments)
    return Document(
        document_id=document_key(source_id, guid, url, text),
        source_id=source_id,
        kind="transcript",
        url=url,
        title=title or "(untitled episode)",
        published_at=published,
        language=language or detect_language(text),
        text=text,
        guid=guid,
        audio_url=audio_url,
        extraction="transcript",
        spans=spans,
        date_source="feed" if published else None,
        duration_seconds=entry.duration if entry else None,
        people=tuple(f"{role}: {name}" for role, name in entry.persons) if entry else (),
        chapters_url=entry.chapters_url if entry else None,
        transcript_format=transcript_format,
    )
