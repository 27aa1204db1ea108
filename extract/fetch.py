"""The HTTP edge: every byte the pipeline fetches comes through a Fetcher.

``HttpFetcher`` talks to the network, politely and within bounds:
- http and https only, at most 5 redirects, each hop checked;
- the address is checked where the connection is made (after DNS, so a name that resolves to a private
  address, or re-resolves to one later, is refused): loopback, private, link-local, carrier-grade NAT,
  multicast and unspecified addresses are refused unless the policy allows them;
- a connect timeout, a read timeout and an overall deadline per request;
- bodies streamed with a cap on the *decoded* size (decompression bombs stop at the cap);
- at most 2 connections per host and a delay between requests to one host;
- transient failures (timeouts, 5xx, 429) retried with backoff, ``Retry-After`` honoured;
- conditional GET with ETag / Last-Modified validators.

``MirrorFetcher`` serves URLs under a base from a local folder: the bundled sample and offline runs use it,
so they exercise exactly the same parsing path as live feeds.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import ipaddress
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from core.errors import PermanentError, TransientError

USER_AGENT = "Undercurrent/0.1 (AI strategy news digest; polite bot)"
FEED_CAP = 32 * 1024 * 1024
PAGE_CAP = 5 * 1024 * 1024
TRANSCRIPT_CAP = 10 * 1024 * 1024
ROBOTS_CAP = 512 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(TransientError):
    """A transient fetch failure that may carry the server's Retry-After, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class Gone(PermanentError):
    """HTTP 410: the resource is gone for good; a feed that answers this is stopped."""


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    content: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))

    def text(self) -> str:
        """The body as text: see ``decode_body``."""
        return decode_body(self.content, self.content_type)


# Encodings real pages use. A server may name any codec Python knows (punycode decodes in quadratic time,
# some are not text encodings at all), so only these are honoured.
_WEB_ENCODINGS = {
    "utf-8",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "ascii",
    "latin-1",
    "iso8859-2",
    "iso8859-3",
    "iso8859-4",
    "iso8859-5",
    "iso8859-6",
    "iso8859-7",
    "iso8859-8",
    "iso8859-9",
    "iso8859-10",
    "iso8859-13",
    "iso8859-14",
    "iso8859-15",
    "iso8859-16",
    "cp1250",
    "cp1251",
    "cp1252",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "cp874",
    "cp866",
    "koi8-r",
    "koi8-u",
    "mac-roman",
    "gbk",
    "gb2312",
    "gb18030",
    "big5",
    "big5hkscs",
    "shift_jis",
    "cp932",
    "euc-jp",
    "iso2022_jp",
    "euc-kr",
    "cp949",
    "tis-620",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return name if name in _WEB_ENCODINGS else None


def decode_body(content: bytes, content_type: str = "") -> str:
    """Decode a body: the HTTP charset, else a BOM, else a <meta> charset, else UTF-8; a body labelled UTF-8
    that is not (Windows-1252 in disguise) is read as Windows-1252. Unknown or unsafe codecs are ignored."""
    declared = None
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            declared = _codec(value)
    if content.startswith(codecs.BOM_UTF8):
        declared = "utf-8"
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = "utf-16"
    elif declared is None:
        match = _META_CHARSET.search(content[:4096])
        declared = _codec(match.group(1).decode("ascii", "ignore")) if match else None
    if declared in (None, "utf-8"):
        try:
            return content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return content.decode("cp1252", errors="replace")
    return content.decode(declared, errors="replace")


class Fetcher(Protocol):
    def get(self, url: str, cap: int = PAGE_CAP, validators: Validators | None = None) -> FetchResult: ...

    def allowed_by_robots(self, url: str) -> bool: ...


# Address policy ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be connected to: public ones, plus any networks explicitly allowed."""

    allow_all: bool = False
    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_setting(cls, value: bool | str | Iterable[str]) -> AddressPolicy:
        """``True`` allows every address; a list of CIDR networks allows just those."""
        if isinstance(value, bool):
            return cls(allow_all=value)
        items = [value] if isinstance(value, str) else list(value)
        return cls(allowed=tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()))

    def check(self, address: str, host: str) -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if self.allow_all or any(ip in network for network in self.allowed):
            return
        if not ip.is_global or ip.is_multicast or ip.is_unspecified:
            raise PermanentError(f"refused: {host} resolves to a non-public address ({ip})")


_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolve")


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself and checks the address it is about to connect to."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            # getaddrinfo has no timeout of its own: a resolver that hangs must not hold a worker forever.
            lookup = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
            infos = lookup.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout} s") from None
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from None
        except (UnicodeError, ValueError) as exc:
            raise _Refused(f"refused: invalid host name {host!r} ({exc})") from None
        address = infos[0][4][0]
        try:
            for info in infos:
                self.policy.check(info[4][0], host)
        except PermanentError as exc:
            raise _Refused(str(exc)) from None
        return _DeadlineStream(super().connect_tcp(address, port, timeout, local_address, socket_options))


_REQUEST = threading.local()  # the deadline (time.monotonic()) of the request this thread is making


class _DeadlineStream(httpcore.NetworkStream):
    """Every read, of headers as of body, ends by the request's overall deadline: a server that drips bytes
    (or header lines) cannot hold a run past it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline = getattr(_REQUEST, "deadline", None)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ReadTimeout("the request's overall deadline passed")
            timeout = remaining if timeout is None else min(timeout, remaining)
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Refused(httpcore.ConnectError):
    """A connection the address policy refused (not worth retrying)."""


# Politeness ----------------------------------------------------------------------------------------------


class HostLimiter:
    """At most ``per_host`` requests in flight to one host, and ``delay`` seconds between their starts."""

    def __init__(self, per_host: int = 2, delay: float = 0.25) -> None:
        self.per_host = per_host
        self.delay = delay
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        if self.per_host <= 0:
            yield
            return
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with semaphore:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self.delay
            if start > now:
                time.sleep(start - now)
            yield


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _read_decoded(url: str, response: httpx.Response, cap: int) -> bytes:
    """The body, decompressed here (gzip or deflate, one layer) a bounded piece at a time, so that no
    decompression bomb ever grows past ``cap``; any other or stacked Content-Encoding is refused."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        decompressor = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decompressor = zlib.decompressobj(wbits=47)  # gzip or zlib, told apart by their header
    else:
        raise PermanentError(f"{url}: unsupported Content-Encoding {encoding!r}")
    body = bytearray()
    too_big = f"body of {url} exceeds {cap // (1024 * 1024)} MiB; stopped"
    try:
        for chunk in response.iter_raw():
            pending = chunk
            while pending:
                if decompressor is None:
                    piece, pending = pending, b""
                else:
                    piece = decompressor.decompress(pending, cap + 1 - len(body))
                    pending = decompressor.unconsumed_tail
                body.extend(piece)
                if len(body) > cap:
                    raise PermanentError(too_big)
                if decompressor is not None and not piece and pending:
                    raise PermanentError(too_big)  # no room left for what is still compressed
    except zlib.error as exc:
        raise PermanentError(f"{url}: body cannot be decompressed ({exc})") from None
    return bytes(body)


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
    """Bounded, polite HTTP GET with manual redirects and an address check at connect time."""

    def __init__(
        self,
        allow_private: bool | str | Iterable[str] = False,
        timeout: float = 20.0,
        deadline: float = 60.0,
        connect_timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_retry_wait: float = 10.0,
        limiter: HostLimiter | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.deadline = deadline
        self.retries = retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.limiter = limiter or HostLimiter()
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_lock = threading.Lock()
        self._robots_locks: dict[str, threading.Lock] = {}
        self.user_agent = user_agent
        transport = httpx.HTTPTransport()
        transport._pool = httpcore.ConnectionPool(  # the only way to give httpx a network backend
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(AddressPolicy.from_setting(allow_private)),
        )
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, cap: int = PAGE_CAP, validators: Validators | None = None) -> FetchResult:
        """GET with retries for transient failures only; waits honour Retry-After up to max_retry_wait.

        Each attempt has the whole ``deadline`` for its redirects, headers and body.
        """
        attempt = 0
        while True:
            _REQUEST.deadline = time.monotonic() + self.deadline
            try:
                return self._get_once(url, cap, validators)
            except FetchError as exc:
                wait = exc.retry_after if exc.retry_after is not None else self.backoff * (2**attempt)
                if attempt >= self.retries or wait > self.max_retry_wait:
                    raise
                attempt += 1
                time.sleep(wait)
            finally:
                _REQUEST.deadline = None

    def _get_once(self, url: str, cap: int, validators: Validators | None) -> FetchResult:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            host = _check_url(current)
            headers = validators.headers() if validators and current == url else {}
            try:
                with self.limiter.slot(host), self._client.stream("GET", current, headers=headers) as response:
                    if response.status_code in _REDIRECTS:
                        location = response.headers.get("location")
                        if not location:
                            raise PermanentError(f"{current} answered HTTP {response.status_code} without a Location")
                        current = urljoin(current, location)
                        continue
                    self._check_status(current, response)
                    body = _read_decoded(current, response, cap)
                    return FetchResult(
                        current,
                        response.status_code,
                        body,
                        response.headers.get("content-type", ""),
                        {k.lower(): v for k, v in response.headers.items()},
                    )
            except httpx.TimeoutException:
                deadline = getattr(_REQUEST, "deadline", None)
                late = deadline is not None and time.monotonic() >= deadline - 0.05
                raise FetchError(
                    f"{current} took longer than its deadline" if late else f"{current} timed out"
                ) from None
            except httpx.InvalidURL as exc:
                raise PermanentError(f"refused: malformed URL {current!r} ({exc})") from None
            except httpx.HTTPError as exc:
                if isinstance(exc.__cause__, _Refused):  # httpx wraps what the backend raised
                    raise PermanentError(str(exc.__cause__)) from None
                raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from None
        raise PermanentError(f"{url}: more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _check_status(url: str, response: httpx.Response) -> None:
        status = response.status_code
        if status >= 500 or status == 429:
            raise FetchError(f"{url} answered HTTP {status}", _retry_after(response.headers.get("retry-after")), status)
        if status == 410:
            raise Gone(f"{url} answered HTTP 410 Gone")
        if status >= 400:
            raise PermanentError(f"{url} answered HTTP {status}")

    def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt lets this bot fetch the page (cached per host for the fetcher's lifetime).

        A missing robots.txt (4xx) allows everything; a server error disallows for now.
        """
        _check_url(url)
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        with origin_lock:  # one fetch of robots.txt per origin, however many threads ask at once
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin)
            parser = self._robots[origin]
        return True if parser is None else parser.can_fetch(self.user_agent, url)

    def _load_robots(self, origin: str) -> RobotFileParser | None:
        parser = RobotFileParser()
        try:
            result = self.get(origin + "/robots.txt", cap=ROBOTS_CAP)
        except FetchError:
            parser.disallow_all = True
            return parser
        except PermanentError:
            return None
        parser.parse(result.text().splitlines())
        return parser


# Local mirror --------------------------------------------------------------------------------------------

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

    def get(self, url: str, cap: int = PAGE_CAP, validators: Validators | None = None) -> FetchResult:
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

    def allowed_by_robots(self, url: str) -> bool:
        return True
