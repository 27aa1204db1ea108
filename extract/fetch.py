"""The HTTP edge: every byte the pipeline fetches comes through a Fetcher.

``HttpFetcher`` talks to the network (bounded time and size, http/https only, private addresses refused
unless allowed). ``MirrorFetcher`` serves URLs under a base from a local folder: the bundled sample and
offline runs use it, so they exercise exactly the same parsing path as live feeds.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from core.errors import PermanentError, TransientError

USER_AGENT = "Undercurrent/0.1 (AI strategy news digest; polite bot)"
FEED_CAP = 32 * 1024 * 1024
PAGE_CAP = 5 * 1024 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    content: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """Body decoded with the declared charset, falling back to UTF-8 with replacement."""
        charset = "utf-8"
        for part in self.content_type.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"' ")
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


class Fetcher(Protocol):
    def get(self, url: str, cap: int = PAGE_CAP) -> FetchResult: ...


def _check_address(host: str, allow_private: bool) -> None:
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise TransientError(f"cannot resolve {host}: {exc.strerror}") from None
    except (UnicodeError, ValueError) as exc:
        raise PermanentError(f"refused: invalid host name {host!r} ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise PermanentError(f"refused: {host} resolves to a non-public address ({address})")


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise PermanentError(f"refused: malformed URL {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise PermanentError(f"refused: only http and https URLs are fetched, not {parts.scheme or 'no'} scheme")
    if not parts.hostname:
        raise PermanentError(f"refused: URL has no host: {url}")
    return parts.hostname


class HttpFetcher:
    """Bounded, polite HTTP GET with manual redirects checked hop by hop."""

    def __init__(self, allow_private: bool = False, timeout: float = 20.0, deadline: float = 60.0) -> None:
        self.allow_private = allow_private
        self.deadline = deadline
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, cap: int = PAGE_CAP) -> FetchResult:
        started = time.monotonic()
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            _check_address(_check_url(current), self.allow_private)
            try:
                with self._client.stream("GET", current) as response:
                    if response.is_redirect:
                        current = urljoin(current, response.headers.get("location", ""))
                        continue
                    status = response.status_code
                    if status >= 500 or status == 429:
                        raise TransientError(f"{current} answered HTTP {status}")
                    if status >= 400:
                        raise PermanentError(f"{current} answered HTTP {status}")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > cap:
                            raise PermanentError(f"body of {current} exceeds {cap // (1024 * 1024)} MiB; stopped")
                        if time.monotonic() - started > self.deadline:
                            raise TransientError(f"{current} took longer than {self.deadline:.0f} s; gave up")
                    return FetchResult(
                        current, status, bytes(body), response.headers.get("content-type", ""), dict(response.headers)
                    )
            except httpx.TimeoutException:
                raise TransientError(f"{current} timed out") from None
            except httpx.DecodingError as exc:
                raise PermanentError(f"{current}: body cannot be decoded ({exc})") from None
            except httpx.HTTPError as exc:
                raise TransientError(f"{current}: {type(exc).__name__}: {exc}") from None
        raise PermanentError(f"{url}: more than {MAX_REDIRECTS} redirects")


_TYPES = {
    ".xml": "application/rss+xml",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/srt; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


class MirrorFetcher:
    """Serves URLs under ``base_url`` from files under ``root`` (the URL path is the file path)."""

    def __init__(self, base_url: str, root: Path) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.root = root.resolve()

    def get(self, url: str, cap: int = PAGE_CAP) -> FetchResult:
        if not url.startswith(self.base_url):
            raise PermanentError(f"offline: {url} is outside the local mirror {self.base_url}")
        relative = unquote(urlsplit(url).path[len(urlsplit(self.base_url).path) :])
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise PermanentError(f"{url} answered HTTP 404 (not in the local mirror)")
        data = path.read_bytes()
        if len(data) > cap:
            raise PermanentError(f"body of {url} exceeds {cap // (1024 * 1024)} MiB; stopped")
        return FetchResult(url, 200, data, _TYPES.get(path.suffix.lower(), "application/octet-stream"))
