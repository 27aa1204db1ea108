"""The HTTP edge against a real server on loopback: bodies, caps, redirects, refusals."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.errors import PermanentError, TransientError
from extract.fetch import HostLimiter, HttpFetcher

FAST = HostLimiter(delay=0)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/feed":
            self._send(200, b"<rss><channel><title>t</title></channel></rss>", "application/rss+xml")
        elif self.path.startswith("/hop/"):
            n = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{n + 1}" if n < 10 else "/feed")
            self.end_headers()
        elif self.path == "/big":
            self._send(200, b"x" * 3_000_000, "text/plain")
        elif self.path == "/bomb":
            body = gzip.compress(b"\0" * 20_000_000)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/error":
            self._send(503, b"busy", "text/plain")
        elif self.path == "/gone":
            self._send(410, b"gone", "text/plain")
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_fetches_from_loopback_when_allowed(server: str) -> None:
    result = HttpFetcher(allow_private=True, limiter=FAST, backoff=0.01).get(server + "/feed")
    assert result.status == 200 and result.content.startswith(b"<rss>")


def test_loopback_is_refused_by_default(server: str) -> None:
    with pytest.raises(PermanentError, match="non-public"):
        HttpFetcher().get(server + "/feed")


def test_follows_up_to_five_redirects(server: str) -> None:
    fetcher = HttpFetcher(allow_private=True, limiter=FAST, backoff=0.01)
    assert fetcher.get(server + "/hop/6").url.endswith("/feed")
    with pytest.raises(PermanentError, match="redirects"):
        fetcher.get(server + "/hop/0")


def test_caps_decoded_size_including_gzip_bombs(server: str) -> None:
    fetcher = HttpFetcher(allow_private=True, limiter=FAST, backoff=0.01)
    with pytest.raises(PermanentError, match="exceeds"):
        fetcher.get(server + "/big", cap=1_000_000)
    with pytest.raises(PermanentError, match="exceeds"):
        fetcher.get(server + "/bomb", cap=1_000_000)


def test_status_codes_are_classified(server: str) -> None:
    fetcher = HttpFetcher(allow_private=True, limiter=FAST, backoff=0.01)
    with pytest.raises(TransientError, match="503"):
        fetcher.get(server + "/error")
    with pytest.raises(PermanentError, match="410"):
        fetcher.get(server + "/gone")


def test_only_http_schemes(server: str) -> None:
    fetcher = HttpFetcher(allow_private=True, limiter=FAST, backoff=0.01)
    for url in ("file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"):
        with pytest.raises(PermanentError, match="only http"):
            fetcher.get(url)
    with pytest.raises(PermanentError, match="only http"):
        fetcher.get(server + "/to-file")
