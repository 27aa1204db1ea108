"""Ingesting a feed over real HTTP on loopback: pages fetched once, known entries never refetched,
hostile entries recorded and skipped."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

import sample
from core.models import Source
from extract.fetch import HostLimiter, HttpFetcher
from flows.ingestion import ingest_paths
from flows.polling import poll_sources
from store.db import open_db

NOW = datetime(2026, 11, 21, 8, 0)
PAGES = sorted((sample.SITE / "news" / "harbourline-tech").glob("*.html"))


class CountingHandler(SimpleHTTPRequestHandler):
    hits: ClassVar[Counter[str]] = Counter()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        CountingHandler.hits[self.path] += 1
        super().do_GET()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "site"
    root.mkdir()
    for page in PAGES:
        (root / page.name).write_bytes(page.read_bytes())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(CountingHandler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    items = "".join(
        f"<item><title>Story {i}</title><link>{base}/{page.name}</link><guid>g{i}</guid>"
        f"<pubDate>Sat, 21 Nov 2026 0{i}:00:00 +0000</pubDate></item>"
        for i, page in enumerate(PAGES)
    )
    hostile = (
        "<item><title>Bad link</title><link>http://[::1</link><guid>bad1</guid></item>"
        "<item><title>Missing page</title><link>" + base + "/missing.html</link><guid>bad2</guid>"
        "<description>too short</description></item>"
    )
    (root / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback</title>{items}{hostile}</channel></rss>'
    )
    CountingHandler.hits.clear()
    yield base, tmp_path
    httpd.shutdown()


def test_feed_over_http_then_again(site: tuple[str, Path]) -> None:
    base, tmp = site
    con = open_db(tmp / "http.duckdb")
    source = Source("src_loop", "Loopback", "news", base + "/feed.xml", "US")
    with HttpFetcher(allow_private=True, limiter=HostLimiter(delay=0)) as fetcher:
        first = poll_sources(con, [source], fetcher, NOW)
        assert first.new_documents == len(PAGES)
        assert len(first.errors) == 2
        assert "malformed URL" in first.errors[0] and "HTTP 404" in first.errors[1]
        assert all(CountingHandler.hits[f"/{p.name}"] == 1 for p in PAGES)
        second = poll_sources(con, [source], fetcher, NOW)  # unchanged feed: 304 Not Modified
        assert (second.new_documents, second.seen_documents, second.errors) == (0, 0, [])
        assert CountingHandler.hits["/feed.xml"] == 2
        # The feed changes: one new entry; the known ones are skipped without fetching their pages again.
        extra = sample.SITE / "news" / "pacific-ledger" / "power-grid-americas-ai-bottleneck.html"
        (tmp / "site" / "extra.html").write_bytes(extra.read_bytes())
        feed = (tmp / "site" / "feed.xml").read_text()
        item = f"<item><title>Extra</title><link>{base}/extra.html</link><guid>g-extra</guid></item>"
        (tmp / "site" / "feed.xml").write_text(feed.replace("</channel>", item + "</channel>"))
        os.utime(tmp / "site" / "feed.xml", (time.time() + 5, time.time() + 5))
        third = poll_sources(con, [source], fetcher, NOW)
    assert third.new_documents == 1 and third.seen_documents == len(PAGES)
    assert all(CountingHandler.hits[f"/{p.name}"] == 1 for p in PAGES)
    rows = con.execute("SELECT extraction, count(*) FROM documents GROUP BY ALL").fetchall()
    assert rows == [("page", len(PAGES) + 1)]
    # Entries that yielded nothing are tried again when the feed changes, and recorded again.
    assert con.execute("SELECT count(*) FROM ingest_errors").fetchone()[0] == 2 * 2
    state = con.execute("SELECT last_modified, consecutive_failures, last_status FROM feed_state").fetchone()
    assert state[0] is not None and state[1:] == (0, 200)
    con.close()


def test_loopback_refused_without_the_setting(site: tuple[str, Path]) -> None:
    base, tmp = site
    con = open_db(tmp / "guarded.duckdb")
    with HttpFetcher() as fetcher:
        report = ingest_paths(con, [base + "/feed.xml"], fetcher)
    assert report.new_documents == 0
    assert report.errors and "non-public address" in report.errors[0]
    assert sum(CountingHandler.hits.values()) == 0
    con.close()


def test_ingest_url_of_feed_keeps_a_configured_source(site: tuple[str, Path]) -> None:
    base, tmp = site
    con = open_db(tmp / "keep.duckdb")
    url = base + "/feed.xml"
    from extract.sources import source_id_for
    from store.documents import upsert_sources

    upsert_sources(con, [Source(source_id_for(url), "Configured Name", "podcast", url, "CN", None, True)])
    with HttpFetcher(allow_private=True, limiter=HostLimiter(delay=0)) as fetcher:
        report = ingest_paths(con, [url], fetcher)
    assert report.new_documents == len(PAGES)
    assert con.execute("SELECT name, kind FROM sources WHERE url = ?", [url]).fetchall() == [
        ("Configured Name", "podcast")
    ]
    con.close()
