"""Feeds, pages, transcripts and dedupe keys on real third-party files and the bundled sample."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import sample
from core.errors import PermanentError
from extract.articles import extract_article
from extract.dedupe import canonical_url, fingerprint, similarity
from extract.feeds import parse_feed
from extract.transcripts import detect_format, join_segments, parse_transcript


def test_sample_feeds_parse_with_entries_and_dates() -> None:
    feeds = sorted(sample.SITE.glob("**/feed.xml"))
    assert len(feeds) == 6
    for path in feeds:
        feed = parse_feed(path.read_bytes())
        assert feed.title and feed.entries
        for entry in feed.entries:
            assert entry.guid and entry.link and entry.published is not None


def test_sample_podcast_entries_carry_transcripts_and_audio() -> None:
    for path in sorted((sample.SITE / "podcasts").glob("*/feed.xml")):
        for entry in parse_feed(path.read_bytes()).entries:
            assert entry.transcripts, entry.title
            assert entry.enclosure_url and entry.enclosure_url.endswith(".mp3")


def test_entity_declarations_are_refused(shared: Path) -> None:
    data = (shared / "corpus/feeds/feedparser/rss_entity_in_doctype.xml").read_bytes()
    with pytest.raises(PermanentError, match="entities"):
        parse_feed(data)
    with pytest.raises(PermanentError):
        parse_feed(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><rss>&b;</rss>')


@pytest.mark.parametrize(
    ("name", "entries"),
    [("feedjira/TechCrunch.xml", 20), ("feedjira/SamRuby.xml", 20), ("feedparser/bozo_incomplete_cdata.xml", 1)],
)
def test_bozo_feed_keeps_its_entries(shared: Path, name: str, entries: int) -> None:
    feed = parse_feed((shared / "corpus/feeds" / name).read_bytes())
    assert feed.bozo is not None
    assert len(feed.entries) == entries


def test_empty_document_is_a_clear_error(shared: Path) -> None:
    with pytest.raises(PermanentError):
        parse_feed((shared / "corpus/feeds/feedparser/bozo_empty_document.xml").read_bytes())


def test_sample_page_extraction_drops_navigation() -> None:
    page = next(sample.SITE.glob("news/*/*.html"))
    article = extract_article(page.read_text(encoding="utf-8"), sample.BASE_URL + "news/x.html")
    assert article is not None
    assert len(article.text.split()) > 150
    assert article.language == "en"


def test_real_page_extraction_matches_expected_text(shared: Path) -> None:
    import json

    html = (shared / "corpus/html/trafilatura/blog.python.org.html").read_text(encoding="utf-8")
    expected = json.loads((shared / "corpus/html/trafilatura/blog.python.org.expected.json").read_text())
    article = extract_article(html, "https://blog.python.org/")
    assert article is not None
    assert all(snippet in article.text for snippet in expected["with"])
    assert not any(snippet in article.text for snippet in expected["without"])


@pytest.mark.parametrize("suffix", [".vtt", ".srt", ".json"])
def test_sample_transcripts_have_speakers_and_times(suffix: str) -> None:
    (path,) = sorted(sample.SITE.glob(f"podcasts/*/*{suffix}"))
    text = path.read_text(encoding="utf-8")
    segments = parse_transcript(text, detect_format(path.name, None, text))
    assert len(segments) > 30
    assert len({s.speaker for s in segments if s.speaker}) >= 2
    assert all(b.start >= a.start for a, b in itertools.pairwise(segments))
    joined, spans = join_segments(segments)
    assert all(joined[s.start_char : s.end_char] == seg.text for s, seg in zip(spans, segments, strict=True))


def test_real_transcripts_parse(shared: Path) -> None:
    files = [p for p in (shared / "corpus/transcripts").glob("*/*") if p.suffix in (".vtt", ".srt", ".json")]
    assert len(files) >= 10
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert parse_transcript(text, detect_format(path.name, None, text)), path.name


def test_unknown_transcript_format_is_a_clear_error() -> None:
    with pytest.raises(PermanentError, match="PDF transcripts are not supported"):
        detect_format("episode.pdf", "application/pdf", "%PDF-1.7")
    with pytest.raises(PermanentError, match="unsupported transcript format"):
        detect_format("episode.bin", "application/octet-stream", "\x00\x01garbage")
    with pytest.raises(PermanentError, match="empty"):
        parse_transcript("  \n", "vtt")


def test_canonical_urls_and_near_duplicates(shared: Path) -> None:
    assert canonical_url("HTTPS://Example.com/a?utm_source=x&b=2&a=1#top") == "https://example.com/a?a=1&b=2"
    text = (shared / "seeds/002_2a1162cb6719bb60.txt").read_text(encoding="utf-8")
    other = (shared / "seeds/000_ca840be5131ca0b3.txt").read_text(encoding="utf-8")
    syndicated = "Reprinted with permission.\n" + text.replace("Markets", "Technology")
    assert similarity(fingerprint(text).signature, fingerprint(syndicated).signature) > 0.9
    assert similarity(fingerprint(text).signature, fingerprint(other).signature) < 0.2


def test_syndicated_copies_with_extra_furniture_are_found_through_lsh() -> None:
    import random

    from extract.dedupe import fingerprint, lsh_bands, overlap

    texts = [extract_article(p.read_text(encoding="utf-8"), None) for p in sorted(sample.SITE.glob("news/*/*.html"))]
    bodies = [t.text for t in texts if t is not None]
    rng = random.Random(7)
    furniture = [
        "Sign up for the morning brief.",
        "Read more: a story about ports.",
        "Share this article.",
        "Related: five things to know today.",
        "Advertisement",
    ]
    found = 0
    for i in range(60):
        paragraphs = bodies[i % len(bodies)].split("\n")
        extra = [f"{rng.choice(furniture)} {rng.random():.6f}" for _ in range(rng.randint(2, 12))]
        copy = "\n".join(extra[: len(extra) // 2] + paragraphs + extra[len(extra) // 2 :])
        original, duplicate = fingerprint(bodies[i % len(bodies)]), fingerprint(copy)
        assert overlap(original, duplicate) >= 0.85
        found += bool(set(lsh_bands(original.signature)) & set(lsh_bands(duplicate.signature)))
    assert found == 60
    unrelated = [fingerprint(b) for b in bodies]
    shared = sum(
        bool(set(lsh_bands(a.signature)) & set(lsh_bands(b.signature)))
        for i, a in enumerate(unrelated)
        for b in unrelated[i + 1 :]
    )
    assert shared <= 3  # distinct articles rarely even become candidates (the syndicated pair does)
