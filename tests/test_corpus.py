"""The shared third-party corpus, served over real HTTP on loopback: real-world feeds through ``poll_sources``
and real article pages through the fetcher and ``extract_article``, scored against their ground truth.

Nothing here leaves the machine: the corpus feeds link to the live web, and the feed test's fetcher refuses
every host but 127.0.0.1 before any name is resolved or any connection is made.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from core.errors import PermanentError
from core.models import Source
from extract.articles import extract_article
from extract.fetch import PAGE_CAP, FetchResult, HostLimiter, HttpFetcher, Validators
from flows.polling import poll_sources
from store.db import open_db

NOW = datetime(2026, 11, 21, 8, 0)
LOOPBACK = "127.0.0.1"
FEED_DIRS = ("feedjira", "feedparser", "podcast-namespace")
CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}

# Floors pinned a little under what was measured (see the module's report lines printed with -s).
ZYTE_MEAN_F1_FLOOR = 0.93
ZYTE_PAGE_F1_FLOOR = 0.55
TRAFILATURA_WITH_FLOOR = 0.93
TRAFILATURA_WITHOUT_FLOOR = 0.80


# A loopback server for a folder ------------------------------------------------------------------------------


class _FileHandler(BaseHTTPRequestHandler):
    """GET files under the server's root by URL path; anything else is 404. Never redirects."""

    server: _CorpusServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        root = self.server.root
        path = (root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
        self.server.hits[self.path] += 1
        if not path.is_relative_to(root) or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _CorpusServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__((LOOPBACK, 0), _FileHandler)
        self.root = root.resolve()
        self.hits: Counter[str] = Counter()


@contextmanager
def serve(root: Path) -> Iterator[_CorpusServer]:
    server = _CorpusServer(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def base_url(server: _CorpusServer) -> str:
    return f"http://{LOOPBACK}:{server.server_address[1]}"


# Offline guard ------------------------------------------------------------------------------------------------


class LoopbackOnlyLimiter(HostLimiter):
    """Refuses any host but 127.0.0.1 at every hop (redirects included), before DNS or a connection."""

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        if host != LOOPBACK:
            raise PermanentError(f"offline test: {host} is not fetched")
        with super().slot(host):
            yield


class OfflineFetcher(HttpFetcher):
    """An HttpFetcher that only ever talks to 127.0.0.1; links into the live web fail as permanent errors."""

    def __init__(self) -> None:
        super().__init__(
            allow_private=f"{LOOPBACK}/32", timeout=5.0, deadline=15.0, retries=0, limiter=LoopbackOnlyLimiter(delay=0)
        )
        self.refused: list[str] = []

    def get(self, url: str, cap: int = PAGE_CAP, validators: Validators | None = None) -> FetchResult:
        if urlsplit(url).hostname != LOOPBACK:
            self.refused.append(url)
            raise PermanentError("offline test")
        return super().get(url, cap, validators)

    def allowed_by_robots(self, url: str) -> bool:
        if urlsplit(url).hostname != LOOPBACK:
            return True  # never fetched: get() refuses it
        return super().allowed_by_robots(url)


# Feeds --------------------------------------------------------------------------------------------------------


def _feed_files(corpus: Path) -> list[Path]:
    return sorted(p for d in FEED_DIRS for p in (corpus / "feeds" / d).iterdir() if p.is_file())


def _source_for(path: Path, base: str, feeds: Path) -> Source:
    relative = path.relative_to(feeds).as_posix()
    kind = "podcast" if path.parent.name == "podcast-namespace" else "news"
    return Source(f"src_{relative}", relative, kind, f"{base}/{relative}")


@pytest.fixture(scope="module")
def polled(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every corpus feed polled once, each as its own source, into a real DuckDB file."""
    feeds = shared / "corpus" / "feeds"
    files = _feed_files(shared / "corpus")
    con = open_db(tmp_path_factory.mktemp("corpus-feeds") / "feeds.duckdb")
    with serve(feeds) as server, OfflineFetcher() as fetcher:
        sources = [_source_for(path, base_url(server), feeds) for path in files]
        report = poll_sources(con, sources, fetcher, NOW)
        hits = Counter(server.hits)
    stored = dict(con.execute("SELECT source_id, count(*) FROM documents GROUP BY ALL").fetchall())
    errors: dict[str, list[str]] = {}
    for source_id, reason in con.execute("SELECT source_id, reason FROM ingest_errors ORDER BY ALL").fetchall():
        errors.setdefault(source_id, []).append(reason)
    state = {
        r[0]: r[1:] for r in con.execute("SELECT source_id, last_status, last_error FROM feed_state").fetchall()
    }
    con.close()
    by_name = {s.name: s for s in sources}
    result = {
        "sources": by_name,
        "report": report,
        "stored": {name: stored.get(s.source_id, 0) for name, s in by_name.items()},
        "errors": {name: errors.get(s.source_id, []) for name, s in by_name.items()},
        "state": {name: state.get(s.source_id) for name, s in by_name.items()},
        "hits": hits,
        "refused": list(fetcher.refused),
    }
    parsed = sum(1 for name in by_name if result["state"][name][0] == 200)
    print(
        f"\ncorpus feeds: {len(files)} polled, {parsed} parsed, {len(files) - parsed} recorded as failed; "
        f"{report.new_documents} documents stored, {len(report.errors)} errors recorded, "
        f"{len(result['refused'])} live-web fetches refused"
    )
    return result


def test_every_corpus_feed_is_stored_or_explained(polled: dict) -> None:
    report = polled["report"]
    assert report.new_documents == sum(polled["stored"].values())
    for name in polled["sources"]:
        status, last_error = polled["state"][name]
        stored, errors = polled["stored"][name], polled["errors"][name]
        if status == 200:
            assert last_error is None
        else:  # the feed itself failed: its reason is in feed_state, ingest_errors and the report
            assert stored == 0 and last_error, name
            assert len(errors) == 1 and errors[0] == last_error, name
            assert any(e.endswith(last_error) and name in e for e in report.errors), name
        # no silent nothing: a feed that stored nothing explains why, unless it was read and had no entries
        if stored == 0 and not errors:
            assert status == 200 and name in EMPTY_VALID_FEEDS, name


EMPTY_VALID_FEEDS: set[str] = set()


def test_corpus_feed_facts(polled: dict) -> None:
    stored, errors, state = polled["stored"], polled["errors"], polled["state"]
    assert stored["feedjira/TechCrunch.xml"] + len(errors["feedjira/TechCrunch.xml"]) == 20
    assert stored["feedparser/jsonfeed_example.json"] + len(errors["feedparser/jsonfeed_example.json"]) == 2
    assert state["feedparser/rss_entity_in_doctype.xml"][0] is None
    assert "entities" in state["feedparser/rss_entity_in_doctype.xml"][1]
    assert "not a readable feed" in state["feedparser/bozo_empty_document.xml"][1]
    assert errors["feedparser/bozo_empty_document.xml"] == [state["feedparser/bozo_empty_document.xml"][1]]


def test_corpus_feeds_never_leave_loopback(polled: dict) -> None:
    assert polled["refused"], "the corpus feeds link to the live web; those fetches must be refused"
    assert all(urlsplit(url).hostname != LOOPBACK for url in polled["refused"])
    # every feed file was fetched from the loopback server exactly once
    assert all(polled["hits"][f"/{name}"] == 1 for name in polled["sources"])


# Article pages ------------------------------------------------------------------------------------------------


def token_f1(extracted: str, expected: str) -> float:
    """Token-level F1 of whitespace-split tokens with multiset overlap (the Zyte benchmark's score)."""
    got, want = Counter(extracted.split()), Counter(expected.split())
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def extracted(shared: Path) -> dict[str, str]:
    """Every corpus page fetched over loopback HTTP and extracted: relative path -> main text ('' if none)."""
    html = shared / "corpus" / "html"
    pages = sorted(p.relative_to(html).as_posix() for p in html.glob("*/*.html"))
    out = {}
    with serve(html) as server, HttpFetcher(allow_private=f"{LOOPBACK}/32", limiter=HostLimiter(delay=0)) as fetcher:
        for relative in pages:
            fetched = fetcher.get(f"{base_url(server)}/{relative}")
            assert fetched.status == 200 and fetched.content == (html / relative).read_bytes()
            article = extract_article(fetched.text(), fetched.url)
            out[relative] = article.text if article else ""
    return out


def test_zyte_benchmark_token_f1(shared: Path, extracted: dict[str, str]) -> None:
    folder = shared / "corpus" / "html" / "zyte-benchmark"
    scores = {
        page.stem: token_f1(extracted[f"zyte-benchmark/{page.name}"], (folder / f"{page.stem}.expected.txt").read_text())
        for page in sorted(folder.glob("*.html"))
    }
    mean = sum(scores.values()) / len(scores)
    worst = min(scores, key=scores.__getitem__)
    print(f"\nzyte-benchmark: {len(scores)} pages, mean token F1 {mean:.3f}, worst {worst} {scores[worst]:.3f}")
    assert len(scores) == 22
    assert mean >= ZYTE_MEAN_F1_FLOOR
    assert all(score >= ZYTE_PAGE_F1_FLOOR for score in scores.values()), scores


def test_trafilatura_snippets(shared: Path, extracted: dict[str, str]) -> None:
    folder = shared / "corpus" / "html" / "trafilatura"
    with_found = with_total = without_absent = without_total = 0
    for page in sorted(folder.glob("*.html")):
        expected = json.loads((folder / f"{page.stem}.expected.json").read_text())
        text = extracted[f"trafilatura/{page.name}"]
        with_found += sum(snippet in text for snippet in expected["with"])
        with_total += len(expected["with"])
        without_absent += sum(snippet not in text for snippet in expected["without"])
        without_total += len(expected["without"])
    with_rate, without_rate = with_found / with_total, without_absent / without_total
    print(
        f"\ntrafilatura pages: 'with' snippets found {with_found}/{with_total} ({with_rate:.3f}), "
        f"'without' snippets absent {without_absent}/{without_total} ({without_rate:.3f})"
    )
    assert with_rate >= TRAFILATURA_WITH_FLOOR
    assert without_rate >= TRAFILATURA_WITHOUT_FLOOR
