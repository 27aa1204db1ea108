"""The faults of FAULTS.md ("Fetching", "Parsing and content") against real servers on loopback.

The server listens on 127.0.0.2 and the fetcher's policy allows exactly that address, so the usual guard
stays on for everything else: redirects into 127.0.0.1, [::1], 169.254.169.254 or 2130706433 are refused.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import sample
from core.errors import PermanentError
from core.models import Source
from extract.articles import extract_article
from extract.feeds import parse_feed
from extract.fetch import FetchError, Gone, HostLimiter, HttpFetcher
from flows.polling import poll_sources
from store.db import open_db

HOST = "127.0.0.2"
NOW = datetime(2026, 11, 21, 8, 0)
ARTICLE = next(iter(sorted((sample.SITE / "news" / "meridian-daily").glob("*.html")))).read_bytes()
Route = Callable[[BaseHTTPRequestHandler], None]


def rss(items: str, title: str = "Feed") -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()


def item(guid: str | None, link: str | None, title: str = "Story", body: str = "") -> str:
    parts = [f"<title>{title}</title>"]
    if guid is not None:
        parts.append(f"<guid>{guid}</guid>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if body:
        parts.append(f"<description>{body}</description>")
    return "<item>" + "".join(parts) + "</item>"


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    kind: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


class Server:
    """A scripted HTTP server: path -> route; counts hits per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] += 1
                route = server.routes.get(path)
                if route is None:
                    send(self, 404, b"not found")
                else:
                    route(self)

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{HOST}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def fetcher(**options: object) -> HttpFetcher:
    defaults: dict[str, object] = {
        "allow_private": f"{HOST}/32",
        "limiter": HostLimiter(delay=0),
        "backoff": 0.05,
        "timeout": 2.0,
        "deadline": 5.0,
    }
    defaults.update(options)
    return HttpFetcher(**defaults)  # type: ignore[arg-type]


def article_html(paragraph: str, times: int, head: str = "", title: str = "", lang: str = "") -> str:
    """A page whose article repeats one paragraph: the main text the extractor should find."""
    opening = f"<html lang='{lang}'>" if lang else "<html>"
    heading = f"<h1>{title}</h1>" if title else ""
    return f"{opening}<head>{head}</head><body><article>{heading}{paragraph * times}</article></body></html>"


def page(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, ARTICLE)


def poll(
    tmp_path: Path,
    server: Server,
    path: str = "/feed",
    now: datetime = NOW,
    name: str = "feed.duckdb",
    **options: object,
) -> tuple:
    con = open_db(tmp_path / name)
    source = Source(f"src_{path.strip('/')}", "Scripted", "news", server.url(path))
    with fetcher(**options) as f:
        report = poll_sources(con, [source], f, now)
    return con, report


# 1. 500, 500, then 200 ---------------------------------------------------------------------------------------


def test_500_500_200_recovers_without_loss_or_duplicates(tmp_path: Path, server: Server) -> None:
    answers = iter([500, 500, 200, 200])

    def flaky(h: BaseHTTPRequestHandler) -> None:
        status = next(answers)
        send(h, status, rss(item("a", server.url("/a"))) if status == 200 else b"oops", "application/rss+xml")

    server.routes.update({"/feed": flaky, "/a": page})
    con, report = poll(tmp_path, server)
    assert report.new_documents == 1 and report.errors == []
    assert server.hits["/feed"] == 3
    assert con.execute("SELECT consecutive_failures, last_status FROM feed_state").fetchone() == (0, 200)
    con.close()


def test_persistent_5xx_backs_off_exponentially_then_recovers(tmp_path: Path, server: Server) -> None:
    status = {"code": 503}
    server.routes["/feed"] = lambda h: send(h, status["code"], rss(item("a", None, body="x " * 50)), "text/xml")
    con, report = poll(tmp_path, server, retries=0)
    assert report.errors and "503" in report.errors[0]
    failures, next_check = con.execute("SELECT consecutive_failures, next_check_at FROM feed_state").fetchone()
    assert failures == 1 and next_check == NOW + timedelta(minutes=30)
    con.close()
    con, report = poll(tmp_path, server, now=NOW + timedelta(minutes=10), retries=0)
    assert server.hits["/feed"] == 1 and "backing off" in report.warnings[0]  # not due: not fetched
    con.close()
    con, _ = poll(tmp_path, server, now=NOW + timedelta(minutes=31), retries=0)
    failures, next_check = con.execute("SELECT consecutive_failures, next_check_at FROM feed_state").fetchone()
    assert failures == 2 and next_check == NOW + timedelta(minutes=31) + timedelta(hours=1)
    con.close()
    status["code"] = 200
    con, report = poll(tmp_path, server, now=NOW + timedelta(hours=3), retries=0)
    assert report.new_documents == 1
    assert con.execute("SELECT consecutive_failures, next_check_at FROM feed_state").fetchone() == (0, None)
    con.close()


# 2. 429 with Retry-After; 410 Gone ---------------------------------------------------------------------------


def test_429_short_retry_after_is_waited_for(tmp_path: Path, server: Server) -> None:
    answers = iter([429, 200])

    def limited(h: BaseHTTPRequestHandler) -> None:
        code = next(answers)
        send(h, code, rss(item("a", None, body="word " * 50)), "text/xml", {"Retry-After": "1"} if code == 429 else {})

    server.routes["/feed"] = limited
    started = time.monotonic()
    con, report = poll(tmp_path, server)
    assert report.new_documents == 1 and time.monotonic() - started >= 1.0
    con.close()


def test_429_long_retry_after_schedules_the_next_check(tmp_path: Path, server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 429, b"slow down", "text/plain", {"Retry-After": "7200"})
    con, report = poll(tmp_path, server)
    assert "429" in report.errors[0]
    assert server.hits["/feed"] == 1  # not hammered: the wait is longer than a run may wait
    assert con.execute("SELECT next_check_at, last_status FROM feed_state").fetchone() == (
        NOW + timedelta(hours=2),
        429,
    )
    con.close()


def test_410_stops_the_feed(tmp_path: Path, server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 410, b"gone")
    con, report = poll(tmp_path, server)
    assert "410" in report.errors[0]
    assert con.execute("SELECT stopped FROM feed_state").fetchone() == (True,)
    con.close()
    con, report = poll(tmp_path, server, now=NOW + timedelta(days=3))
    assert server.hits["/feed"] == 1 and "stopped" in report.warnings[0]
    con.close()
    with fetcher() as f, pytest.raises(Gone):
        f.get(server.url("/feed"))


# 3. Huge bodies, lying Content-Length; 4. gzip bombs ---------------------------------------------------------


def test_200_mb_chunked_body_stops_at_the_cap(server: Server) -> None:
    def endless(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.end_headers()  # no Content-Length: read until close
        chunk = b"<item>" + b"x" * 65536 + b"</item>"
        try:
            for _ in range(200 * 16):  # about 200 MB if nobody stops reading
                h.wfile.write(chunk)
        except OSError:
            pass

    server.routes["/huge"] = endless
    with fetcher() as f, pytest.raises(PermanentError, match="exceeds 5 MiB"):
        f.get(server.url("/huge"), cap=5 * 1024 * 1024)


def test_content_length_that_lies(server: Server) -> None:
    def short(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(b"only a little")
        h.close_connection = True

    def long(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "5")
        h.end_headers()
        h.wfile.write(b"12345 and a lot more that was not announced")

    server.routes.update({"/short": short, "/long": long})
    with fetcher(retries=0) as f:
        with pytest.raises(FetchError):
            f.get(server.url("/short"))
        assert f.get(server.url("/long")).content == b"12345"


def test_gzip_bombs_with_and_without_content_encoding(tmp_path: Path, server: Server) -> None:
    bomb = gzip.compress(b"<rss>" + b" " * 60_000_000)
    server.routes["/encoded"] = lambda h: send(h, 200, bomb, "application/rss+xml", {"Content-Encoding": "gzip"})
    server.routes["/raw"] = lambda h: send(h, 200, bomb, "application/rss+xml")
    with fetcher() as f, pytest.raises(PermanentError, match="exceeds"):
        f.get(server.url("/encoded"), cap=32 * 1024 * 1024)
    con, report = poll(tmp_path, server, "/raw")  # never inflated: it is just unreadable bytes
    assert report.new_documents == 0 and "not a readable feed" in report.errors[0]
    con.close()


# 5. Entity attacks ---------------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    + b"]><rss><channel><title>&lol9;</title></channel></rss>"
)
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "'
    + b"A" * 50_000
    + b'">]><rss><channel><title>'
    + (b"&a;" * 5_000)
    + b"</title></channel></rss>"
)
XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss><channel><item><title>&xxe;</title></item></channel></rss>'


UTF16_LAUGHS = BILLION_LAUGHS.replace(b'version="1.0"', b'version="1.0" encoding="utf-16"').decode().encode("utf-16")
UTF7_LAUGHS = b'<?xml version="1.0" encoding="utf-7"?>' + BILLION_LAUGHS.split(b"?>", 1)[1].decode().encode("utf-7")
EBCDIC_LAUGHS = BILLION_LAUGHS.replace(b'version="1.0"', b'version="1.0" encoding="cp037"').decode().encode("cp037")


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, QUADRATIC, XXE, UTF16_LAUGHS, UTF7_LAUGHS, EBCDIC_LAUGHS],
    ids=["billion-laughs", "quadratic", "xxe", "utf-16", "utf-7", "ebcdic"],
)
def test_entity_attacks_are_refused_before_parsing(tmp_path: Path, server: Server, body: bytes) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, body, "application/rss+xml")
    con, report = poll(tmp_path, server)
    assert report.new_documents == 0 and "entities" in report.errors[0]
    assert con.execute("SELECT count(*) FROM documents").fetchone() == (0,)
    con.close()


# 6. Redirects into private addresses, loops, long chains ------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/a",
        "http://[::1]:{port}/a",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433:{port}/a",
        "http://0.0.0.0:{port}/a",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
    ],
)
def test_redirects_into_private_addresses_are_refused(server: Server, target: str) -> None:
    port = server.httpd.server_address[1]
    server.routes["/r"] = lambda h: send(h, 302, b"", headers={"Location": target.format(port=port)})
    with fetcher() as f, pytest.raises(PermanentError, match="non-public"):
        f.get(server.url("/r"))


def test_redirect_loops_and_chains(server: Server) -> None:
    server.routes["/loop"] = lambda h: send(h, 301, b"", headers={"Location": "/loop"})
    for n in range(7):
        server.routes[f"/hop{n}"] = lambda h, n=n: send(h, 302, b"", headers={"Location": f"/hop{n + 1}"})
    server.routes["/hop7"] = page
    with fetcher() as f:
        with pytest.raises(PermanentError, match="more than 5 redirects"):
            f.get(server.url("/loop"))
        with pytest.raises(PermanentError, match="more than 5 redirects"):
            f.get(server.url("/hop1"))  # 6 chained redirects
        assert f.get(server.url("/hop2")).status == 200  # 5 are fine
    assert server.hits["/loop"] == 6


# 7. Links with other schemes in a feed ---------------------------------------------------------------------------


def test_feed_links_with_other_schemes_are_never_followed(tmp_path: Path, server: Server) -> None:
    body = "Beijing is giving away open-weight AI models to win developers from OpenAI. " * 6
    items = "".join(
        item(f"g{i}", link, body=body)
        for i, link in enumerate(["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"])
    )
    server.routes["/feed"] = lambda h: send(h, 200, rss(items), "application/rss+xml")
    con, report = poll(tmp_path, server)
    assert report.new_documents == 3  # from the feed's own content
    assert con.execute("SELECT DISTINCT extraction FROM documents").fetchall() == [("feed",)]
    con.close()


# 8. Servers that never answer, or drip -------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # accept, read nothing, answer nothing
            except TimeoutError:
                continue
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://{HOST}:{listener.getsockname()[1]}/feed"
    stop.set()
    for conn in accepted:
        conn.close()
    listener.close()


def test_server_that_never_answers_times_out(silent_server: str) -> None:
    with fetcher(timeout=1.0, retries=1) as f, pytest.raises(FetchError, match="timed out"):
        f.get(silent_server)


def test_one_byte_per_second_drip_hits_the_deadline(server: Server) -> None:
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        try:
            for _ in range(1000):
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass

    server.routes["/drip"] = drip
    started = time.monotonic()
    with fetcher(deadline=2.0, retries=0) as f, pytest.raises(FetchError, match="longer than its deadline"):
        f.get(server.url("/drip"))
    assert time.monotonic() - started < 30  # bounded: the deadline, not the server, decides


# 9. Duplicate and missing GUIDs; the same article in two feeds --------------------------------------------------


def test_duplicate_and_missing_guids(tmp_path: Path, server: Server) -> None:
    body = "Chinese labs use open-weight AI models as a loss leader for cloud services, analysts say. " * 5
    items = (
        item("same", server.url("/a"))
        + item("same", server.url("/a"))  # a duplicate GUID
        + item(None, server.url("/b"))  # no GUID: keyed on the canonical link
        + item(None, server.url("/b") + "?utm_source=rss")  # the same link with tracking parameters
        + item(None, None, body=body)  # neither: keyed on a content hash
    )
    server.routes.update(
        {
            "/feed": lambda h: send(h, 200, rss(items), "application/rss+xml"),
            "/a": page,
            "/b": lambda h: send(h, 200, ARTICLE.replace(b"<h1", b"<p>Variant B.</p><h1", 1)),
        }
    )
    con, first = poll(tmp_path, server)
    assert first.new_documents == 3 and first.errors == []
    assert server.hits["/a"] == 1
    con.close()
    con, second = poll(tmp_path, server, now=NOW + timedelta(hours=1))
    assert second.new_documents == 0
    assert con.execute("SELECT count(*) FROM documents").fetchone() == (3,)
    con.close()


def test_same_article_in_two_feeds_is_grouped_not_deleted(tmp_path: Path, server: Server) -> None:
    server.routes.update(
        {
            "/one": lambda h: send(h, 200, rss(item("x1", server.url("/story"))), "application/rss+xml"),
            "/two": lambda h: send(h, 200, rss(item("y9", server.url("/mirror/story"))), "application/rss+xml"),
            "/story": page,
            "/mirror/story": lambda h: send(h, 200, ARTICLE.replace(b"</article>", b"<p>Syndicated.</p></article>")),
        }
    )
    con = open_db(tmp_path / "two.duckdb")
    sources = [
        Source("src_one", "One", "news", server.url("/one")),
        Source("src_two", "Two", "news", server.url("/two")),
    ]
    with fetcher() as f:
        report = poll_sources(con, sources, f, NOW)
    assert report.new_documents == 2
    copies, outlets = con.execute("SELECT copies, outlets FROM syndication WHERE copies > 1").fetchone()
    assert copies == 2 and outlets == ["One", "Two"]
    con.close()


# 10. ETags that always change; 304 without validators -------------------------------------------------------------


def test_changing_etag_and_unasked_304(tmp_path: Path, server: Server) -> None:
    counter = iter(range(100))
    server.routes["/feed"] = lambda h: send(
        h, 200, rss(item("a", server.url("/a"))), "application/rss+xml", {"ETag": f'"v{next(counter)}"'}
    )
    server.routes["/a"] = page
    con, first = poll(tmp_path, server)
    con.close()
    con, second = poll(tmp_path, server, now=NOW + timedelta(hours=1))
    assert (first.new_documents, second.new_documents, server.hits["/a"]) == (1, 0, 1)
    assert con.execute("SELECT etag FROM feed_state").fetchone() == ('"v1"',)
    con.close()
    server.routes["/cold"] = lambda h: send(h, 304, b"")
    con, report = poll(tmp_path, server, "/cold", name="cold.duckdb")
    assert report.new_documents == 0 and report.errors == []
    con.close()


# 11. HTML served as a feed; empty 200; truncated XML ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ARTICLE, "not a readable feed"),
        (b"", "not a readable feed"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</ti', "not a readable feed"),
    ],
    ids=["html", "empty", "truncated"],
)
def test_unreadable_feeds_are_recorded(tmp_path: Path, server: Server, body: bytes, message: str) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, body, "application/rss+xml")
    con, report = poll(tmp_path, server)
    assert report.new_documents == 0 and message in report.errors[0]
    assert con.execute("SELECT count(*), min(reason) FROM ingest_errors").fetchone()[0] == 1
    assert con.execute("SELECT consecutive_failures FROM feed_state").fetchone() == (1,)
    con.close()


def test_truncated_feed_keeps_the_entries_before_the_cut(tmp_path: Path, server: Server) -> None:
    whole = rss(item("a", server.url("/a")) + item("b", server.url("/b")))
    server.routes.update(
        {
            "/feed": lambda h: send(
                h, 200, whole[: whole.index(b"<item><title>Story</title><guid>b") + 40], "text/xml"
            ),
            "/a": page,
        }
    )
    con, report = poll(tmp_path, server)
    assert report.new_documents >= 1
    con.close()


# 12. Wrong charsets; Chinese and Urdu pages ------------------------------------------------------------------------


def test_wrong_charsets_and_other_languages(tmp_path: Path, server: Server) -> None:
    chinese = article_html(
        "<p>中国的人工智能公司正在把开源模型作为获取开发者的手段，这一策略正在改变全球竞争的格局。</p>",
        8,
        head="<meta charset='gbk'><title>人工智能</title>",
        title="开源模型",
    )
    urdu = article_html(
        "<p>چین اور امریکہ کے درمیان مصنوعی ذہانت کی دوڑ میں اوپن سورس ماڈلز ایک اہم حکمت عملی بن گئے ہیں۔</p>",
        8,
        title="مصنوعی ذہانت",
        lang="ur",
    )
    smart = article_html("<p>\u201cChina\u2019s open models\u201d are cheap. ", 20, title="Quotes")
    items = item("zh", server.url("/zh")) + item("ur", server.url("/ur")) + item("w", server.url("/w1252"))
    server.routes.update(
        {
            "/feed": lambda h: send(h, 200, rss(items), "application/rss+xml"),
            "/zh": lambda h: send(h, 200, chinese.encode("gbk"), "text/html; charset=gbk"),
            "/ur": lambda h: send(h, 200, urdu.encode("utf-8"), "text/html"),  # no charset at all
            "/w1252": lambda h: send(h, 200, smart.encode("cp1252"), "text/html; charset=utf-8"),  # a lying label
        }
    )
    con, report = poll(tmp_path, server)
    assert report.new_documents == 3 and report.non_english == 2
    languages = dict(con.execute("SELECT guid, language FROM documents").fetchall())
    assert languages["zh"] == "zh" and languages["ur"] == "ur"
    texts = dict(con.execute("SELECT guid, text FROM documents").fetchall())
    assert "开源模型" in texts["zh"] and "اوپن سورس" in texts["ur"]
    con.close()


# 13. Pathological HTML ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><table><tr><td colspan=9007199254740991 rowspan=9007199254740991>x</td></tr></table>"
        + "<article><p>"
        + "China and the US compete on open AI models. " * 40
        + "</p></article></body></html>",
        "<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>",
        "<html><body><p>" + "a" * 4_000_000 + "</p></body></html>",
    ],
    ids=["huge-colspan", "100k-nested-divs", "4mb-single-line"],
)
def test_pathological_html_does_not_crash(html: str) -> None:
    result = extract_article(html, "https://example.org/x")
    if "colspan" in html:  # the absurd table does not stop the article from being read
        assert result is not None and "China and the US compete on open AI models." in result.text
    else:
        assert result is None or "China" not in result.text


def test_pathological_page_in_a_feed_falls_back(tmp_path: Path, server: Server) -> None:
    nested = ("<html><body>" + "<div>" * 100_000 + "</div>" * 100_000 + "</body></html>").encode()
    body = "Washington's chip export controls pushed Chinese AI labs toward efficiency and Huawei chips. " * 5
    server.routes.update(
        {
            "/feed": lambda h: send(h, 200, rss(item("n", server.url("/nested"), body=body)), "application/rss+xml"),
            "/nested": lambda h: send(h, 200, nested),
        }
    )
    con, report = poll(tmp_path, server)
    assert report.new_documents == 1
    assert con.execute("SELECT extraction FROM documents").fetchone() == ("feed",)
    con.close()


# 14. A podcast feed over 15 MiB --------------------------------------------------------------------------------------


def test_podcast_feed_over_15_mib(server: Server) -> None:
    notes = "<p>" + "Show notes about chips, models and policy. " * 400 + "</p>"
    items = "".join(
        item(f"ep{i}", f"https://pod.example/{i}", f"Episode {i}", body=notes.replace("<", "&lt;")) for i in range(1000)
    )
    body = rss(items, "Big Show")
    assert len(body) > 15 * 1024 * 1024
    server.routes["/big"] = lambda h: send(h, 200, body, "application/rss+xml")
    with fetcher(deadline=60.0, timeout=30.0) as f:
        result = f.get(server.url("/big"), cap=32 * 1024 * 1024)
    assert len(parse_feed(result.content).entries) == 1000


# robots.txt ----------------------------------------------------------------------------------------------------------


def test_robots_txt_is_honoured_for_article_pages(tmp_path: Path, server: Server) -> None:
    body = "Beijing treats open-weight AI models as a loss leader for Alibaba Cloud, says a report. " * 5
    items = item("p", server.url("/private/story"), body=body) + item("o", server.url("/open/story"))
    server.routes.update(
        {
            "/robots.txt": lambda h: send(h, 200, b"User-agent: *\nDisallow: /private/\n", "text/plain"),
            "/feed": lambda h: send(h, 200, rss(items), "application/rss+xml"),
            "/private/story": page,
            "/open/story": page,
        }
    )
    con, report = poll(tmp_path, server)
    assert report.new_documents == 2
    assert server.hits["/private/story"] == 0 and server.hits["/open/story"] == 1
    assert dict(con.execute("SELECT guid, extraction FROM documents").fetchall()) == {"p": "feed", "o": "page"}
    assert server.hits["/robots.txt"] == 1
    con.close()


# Politeness ----------------------------------------------------------------------------------------------------


def test_at_most_two_connections_per_host(server: Server) -> None:
    active = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def slow(h: BaseHTTPRequestHandler) -> None:
        with lock:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
        time.sleep(0.2)
        with lock:
            active["now"] -= 1
        page(h)

    server.routes["/slow"] = slow
    from concurrent.futures import ThreadPoolExecutor

    with fetcher(limiter=HostLimiter(per_host=2, delay=0.05)) as f, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: f.get(server.url("/slow")), range(8)))
    assert active["peak"] == 2
    assert server.hits["/slow"] == 8


# Review follow-ups: stacked encodings, dripping headers, charsets, hostnames, dates, validators -------------


def test_stacked_content_encodings_are_refused(server: Server) -> None:
    twice = gzip.compress(gzip.compress(b"<rss>" + b" " * 50_000_000))
    server.routes["/twice"] = lambda h: send(h, 200, twice, "application/rss+xml", {"Content-Encoding": "gzip, gzip"})
    server.routes["/br"] = lambda h: send(h, 200, b"\x00", "text/html", {"Content-Encoding": "br"})
    with fetcher() as f:
        with pytest.raises(PermanentError, match="Content-Encoding"):
            f.get(server.url("/twice"))
        with pytest.raises(PermanentError, match="Content-Encoding"):
            f.get(server.url("/br"))


def test_dripping_headers_hit_the_deadline(server: Server) -> None:
    def drip_headers(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for n in range(1000):
                h.wfile.write(f"X-Slow-{n}: {'x' * 10}\r\n".encode())
                h.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass
        h.close_connection = True

    server.routes["/headers"] = drip_headers
    started = time.monotonic()
    with fetcher(deadline=2.0, retries=0) as f, pytest.raises(FetchError, match="deadline"):
        f.get(server.url("/headers"))
    assert time.monotonic() - started < 30


def test_page_charsets_from_meta_and_mislabelled_windows_1252(tmp_path: Path, server: Server) -> None:
    gbk = article_html(
        "<p>中国的人工智能公司正在把开源模型作为获取开发者的手段，这一策略正在改变全球竞争的格局。</p>",
        8,
        head="<meta charset='gbk'>",
        title="开源",
    )
    big5 = article_html(
        "<p>中國的人工智慧公司正在把開源模型作為吸引開發者的手段，這一策略正在改變全球競爭的格局。</p>",
        8,
        head='<meta http-equiv="Content-Type" content="text/html; charset=big5">',
    )
    smart = article_html(
        "<p>\u201cChina\u2019s open models\u201d are cheap, and American developers use them widely. </p>",
        12,
        title="Quotes",
    )
    items = item("gbk", server.url("/gbk")) + item("big5", server.url("/big5")) + item("w", server.url("/w"))
    server.routes.update(
        {
            "/feed": lambda h: send(h, 200, rss(items), "application/rss+xml"),
            "/gbk": lambda h: send(h, 200, gbk.encode("gbk"), "text/html"),  # the charset only in <meta>
            "/big5": lambda h: send(h, 200, big5.encode("big5"), "text/html"),
            "/w": lambda h: send(h, 200, smart.encode("cp1252"), "text/html; charset=utf-8"),  # a lying label
        }
    )
    con, report = poll(tmp_path, server)
    assert report.new_documents == 3
    rows = dict(con.execute("SELECT guid, text FROM documents").fetchall())
    languages = dict(con.execute("SELECT guid, language FROM documents").fetchall())
    assert "开源模型" in rows["gbk"] and languages["gbk"] == "zh"
    assert "開源模型" in rows["big5"] and languages["big5"] == "zh"
    assert "\u201cChina\u2019s open models\u201d" in rows["w"] and languages["w"] == "en"
    con.close()


def test_redirect_to_a_name_that_resolves_to_loopback(server: Server) -> None:
    port = server.httpd.server_address[1]
    server.routes["/r"] = lambda h: send(h, 302, b"", headers={"Location": f"http://localhost:{port}/a"})
    with fetcher() as f, pytest.raises(PermanentError, match="non-public"):
        f.get(server.url("/r"))


def test_retry_after_as_an_http_date() -> None:
    from email.utils import format_datetime

    from extract.fetch import _retry_after

    soon = datetime.now().astimezone() + timedelta(seconds=120)
    assert 100 <= (_retry_after(format_datetime(soon)) or 0) <= 121
    assert _retry_after("30") == 30.0 and _retry_after("soon") is None and _retry_after(None) is None


def test_quiet_feed_is_reported_even_when_it_answers_304(tmp_path: Path, server: Server) -> None:
    old = [NOW - timedelta(days=d) for d in range(5, 12)]
    items = "".join(
        item(f"q{i}", None, body="Chinese AI labs ship open models to win developers, analysts say. " * 6).replace(
            "</item>", f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        )
        for i, when in enumerate(old)
    )
    state = {"fresh": True}

    def feed(h: BaseHTTPRequestHandler) -> None:
        if state["fresh"]:
            send(h, 200, rss(items), "application/rss+xml", {"ETag": '"q1"'})
        else:
            send(h, 304, b"")

    server.routes["/feed"] = feed
    con, first = poll(tmp_path, server)
    assert first.new_documents == 7 and any("quiet" in w for w in first.warnings)
    con.close()
    state["fresh"] = False
    con, second = poll(tmp_path, server, now=NOW + timedelta(hours=6))
    assert any("quiet" in w for w in second.warnings)
    assert con.execute("SELECT etag, last_status FROM feed_state").fetchone() == ('"q1"', 304)
    con.close()


def test_entry_that_failed_transiently_is_retried_although_the_feed_is_unchanged(
    tmp_path: Path, server: Server
) -> None:
    pages = {"code": 503}
    server.routes.update(
        {
            "/feed": lambda h: (
                send(h, 200, rss(item("s", server.url("/s"))), "application/rss+xml", {"ETag": '"same"'})
                if "If-None-Match" not in h.headers
                else send(h, 304, b"")
            ),
            "/s": lambda h: send(h, pages["code"], ARTICLE if pages["code"] == 200 else b"busy"),
        }
    )
    con, first = poll(tmp_path, server, retries=0)
    assert first.new_documents == 0 and "503" in first.errors[0]
    assert con.execute("SELECT etag FROM feed_state").fetchone() == (None,)  # old validators kept
    con.close()
    pages["code"] = 200
    con, second = poll(tmp_path, server, now=NOW + timedelta(hours=1), retries=0)
    assert second.new_documents == 1
    assert con.execute("SELECT etag FROM feed_state").fetchone() == ('"same"',)
    con.close()


@pytest.mark.parametrize(
    "body",
    [
        rss(item(None, "http://[::1", body="x")),  # no GUID and a malformed link
        rss(
            item("d", None, body="Open models " * 30).replace(
                "</item>", "<pubDate>Fri, 31 Dec 9999 23:59:59 -1200</pubDate></item>"
            )
        ),
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": 5}',
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": 1, "attachments": 3, "authors": 7}]}',
    ],
    ids=["malformed-link", "year-9999", "json-items-not-a-list", "json-fields-of-wrong-types"],
)
def test_hostile_entries_never_crash_a_poll(tmp_path: Path, server: Server, body: bytes) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, body, "application/json" if body[:1] == b"{" else "text/xml")
    server.routes["/other"] = lambda h: send(
        h, 200, rss(item("ok", None, body="Beijing open models. " * 30)), "text/xml"
    )
    con = open_db(tmp_path / "hostile.duckdb")
    sources = [
        Source("src_bad", "Bad", "news", server.url("/feed")),
        Source("src_ok", "Ok", "news", server.url("/other")),
    ]
    with fetcher() as f:
        report = poll_sources(con, sources, f, NOW)
    assert con.execute("SELECT count(*) FROM documents WHERE source_id = 'src_ok'").fetchone() == (1,)
    states = dict(con.execute("SELECT source_id, last_status FROM feed_state").fetchall())
    assert states["src_ok"] == 200 and "src_bad" in states
    assert report.new_documents >= 1
    con.close()


def test_a_stub_page_loses_to_the_feeds_full_text(tmp_path: Path, server: Server) -> None:
    stub = b"<html><body><article><p>Please enable JavaScript to read this article.</p></article></body></html>"
    body = "Alibaba keeps its best Qwen models closed while releasing smaller open weights to developers. " * 8
    server.routes.update(
        {
            "/feed": lambda h: send(h, 200, rss(item("j", server.url("/js"), body=body)), "text/xml"),
            "/js": lambda h: send(h, 200, stub),
        }
    )
    con, report = poll(tmp_path, server)
    assert report.new_documents == 1
    extraction, text = con.execute("SELECT extraction, text FROM documents").fetchone()
    assert extraction == "feed" and "Alibaba keeps its best Qwen models closed" in text
    con.close()


def test_a_hanging_name_lookup_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver itself stalls (a fake stands in for a DNS server that never answers)."""
    import extract.fetch as fetch_module

    release = threading.Event()

    def stalled_lookup(*args: object, **kwargs: object) -> list:
        release.wait(10)
        return []

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", stalled_lookup)
    started = time.monotonic()
    with fetcher(connect_timeout=0.5, retries=0) as f, pytest.raises(FetchError, match="timed out"):
        f.get("http://stalled.example/feed")
    release.set()
    assert time.monotonic() - started < 5
