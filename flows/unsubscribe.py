"""The unsubscribe edge: a small HTTP server for RFC 8058 one-click unsubscribe links.

``GET /unsubscribe?t=TOKEN`` shows a page with a button and changes nothing (mail scanners and link previews
follow GET links); ``POST /unsubscribe?t=TOKEN`` (the one-click request mail providers send, or the button)
unsubscribes, and says so again when repeated. An unknown token gets a 404 page that reveals nothing.

DuckDB lets one process write a file at a time, and the daily run must never fail because someone clicked. So
the server holds the database only for moments (a read-only look-up for GET, one short write for POST, never
waiting for it), and a POST first appends its token to a queue file beside the database
(``<db>.unsubscribe-queue``, under a file lock shared with the run): if the database is busy, the next run
applies the queue before it delivers anything, and nothing is lost.
"""

from __future__ import annotations

import fcntl
import html
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import duckdb

from core.errors import DatabaseBusy
from store import digests as digeststore
from store.db import connect

log = logging.getLogger("undercurrent.unsubscribe")
MAX_BODY = 4096
MAX_QUEUE_BYTES = 1 << 20  # a queue this large means something is wrong: refuse more until a run applies it
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def queue_path(db: Path) -> Path:
    return db.with_name(db.name + ".unsubscribe-queue")


@contextmanager
def _queue_lock(db: Path) -> Iterator[None]:
    """An exclusive lock shared by the server's threads and processes and the run."""
    with open(db.with_name(db.name + ".unsubscribe-lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def queue_token(db: Path, token: str) -> bool:
    """Append a token to the queue (durably); False when the queue is full."""
    path = queue_path(db)
    with _queue_lock(db):
        if path.exists() and path.stat().st_size > MAX_QUEUE_BYTES:
            return False
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return True


def apply_queued_unsubscribes(con: duckdb.DuckDBPyConnection, db: Path) -> int:
    """Apply the queued unsubscribes; returns how many tokens matched a subscriber. The queue is emptied only
    after every token in it was applied, so an error leaves it for the next attempt."""
    path = queue_path(db)
    with _queue_lock(db):
        if not path.exists():
            return 0
        tokens = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        applied = sum(digeststore.unsubscribe_token(con, token) is not None for token in dict.fromkeys(tokens))
        path.unlink()
    return applied


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;'
        'color:#1c1e21;background:#fff;line-height:1.5">'
        f"<h1 style=font-size:1.4rem>{html.escape(title)}</h1>{body}</body></html>"
    ).encode()


class UnsubscribeHandler(BaseHTTPRequestHandler):
    server_version = "undercurrent"
    timeout = 10  # a client that sends nothing for this long is dropped
    db: Path  # set on the subclass the server is made with

    def log_message(self, format: str, *args: object) -> None:
        # the request line carries the subscriber's token: log the path without it
        log.info("%s %s %s", self.address_string(), self.command, urlsplit(self.path).path)

    def _token(self) -> str | None:
        """The request's token when the path and token are well formed, else None."""
        parts = urlsplit(self.path)
        if parts.netloc or parts.path.rstrip("/") != "/unsubscribe":
            return None
        values = parse_qs(parts.query).get("t", [])
        return values[0] if len(values) == 1 and TOKEN.fullmatch(values[0]) else None

    def _send(self, status: HTTPStatus, body: bytes, retry_after: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self) -> None:
        self._send(HTTPStatus.NOT_FOUND, _page("Link not valid", "<p>This unsubscribe link is not valid.</p>"))

    def do_GET(self) -> None:
        token = self._token()
        if token is None:
            return self._not_found()
        try:
            with connect(self.db, read_only=True, busy_wait=0) as con:
                found = digeststore.subscriber_by_token(con, token)
        except DatabaseBusy:  # a run holds the database: offer the button anyway, a POST will be queued
            found = ("your address", "active")
        if found is None:
            return self._not_found()
        email, status = found
        if status != "active":
            body = f"<p>{html.escape(email)} is not subscribed to the Undercurrent brief.</p>"
            return self._send(HTTPStatus.OK, _page("Already unsubscribed", body))
        action = "/unsubscribe?t=" + quote(token, safe="")  # our own path, never the request's
        body = (
            f"<p>Stop sending the Undercurrent brief to {html.escape(email)}?</p>"
            f'<form method=post action="{html.escape(action, quote=True)}"><button type=submit '
            'style="font-size:1rem;padding:.6rem 1.2rem">Unsubscribe</button></form>'
        )
        self._send(HTTPStatus.OK, _page("Unsubscribe", body))

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self._send(HTTPStatus.BAD_REQUEST, _page("Bad request", ""))
        if length > MAX_BODY:
            return self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _page("Too large", ""))
        self.rfile.read(length)  # "List-Unsubscribe=One-Click", or the form's empty body: the token decides
        token = self._token()
        if token is None:
            return self._not_found()
        if not queue_token(self.db, token):
            return self._send(HTTPStatus.SERVICE_UNAVAILABLE, _page("Try again later", ""), retry_after=600)
        try:
            with connect(self.db, busy_wait=0) as con:
                apply_queued_unsubscribes(con, self.db)
                found = digeststore.subscriber_by_token(con, token)
        except DatabaseBusy:  # queued: the next run applies it before it sends anything
            found = ("your address", "unsubscribed")
        if found is None:
            return self._not_found()
        body = f"<p>{html.escape(found[0])} will receive no more Undercurrent briefs.</p>"
        self._send(HTTPStatus.OK, _page("Unsubscribed", body))

    def do_PUT(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, _page("Not allowed", ""))

    do_DELETE = do_PUT
    do_PATCH = do_PUT


def make_server(db: Path, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("BoundUnsubscribeHandler", (UnsubscribeHandler,), {"db": db})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
