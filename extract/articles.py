"""Article pages to text with trafilatura. Takes decoded text, never bytes or URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import unescape

import trafilatura

from extract.language import detect_language

_HTML_LANG = re.compile(r"<html[^>]*\blang=[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class ArticleText:
    title: str | None
    author: str | None
    published: datetime | None
    sitename: str | None
    language: str | None
    text: str


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def extract_article(html: str, url: str | None = None) -> ArticleText | None:
    """Main text and metadata of a page, or None when no main text can be found."""
    result = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    if result is None:
        return None
    data = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    text = (data.get("text") or "").strip()
    if not text:
        return None
    lang = detect_language(text)
    if not lang:
        match = _HTML_LANG.search(html[:4096])
        lang = match.group(1).lower() if match else None
    return ArticleText(
        title=data.get("title"),
        author=data.get("author"),
        published=_parse_date(data.get("date")),
        sitename=data.get("sitename"),
        language=lang,
        text=text,
    )


def html_to_text(fragment: str) -> str:
    """Plain text of a small HTML fragment (a feed's own content), paragraphs on their own lines."""
    with_breaks = re.sub(r"(?i)</p>|<br\s*/?>|</h\d>|</li>", "\n", fragment)
    text = _TAGS.sub("", with_breaks)
    lines = [" ".join(unescape(line).split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)
