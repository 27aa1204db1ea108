"""The unsubscribe edge: a small HTTP server for RFC 8058 one-click unsubscribe links.

``GET /unsubscribe?t=TOKEN`` shows a page with a button and changes nothing (mail scanners and link previews
follow GET links); ``POST /unsubscribe?t=TOKEN`` (the one-click request mail providers send, or the button)
unsubscribes, and says so again when repeated. An unknown token gets a 404 page that reveals nothing.

DuckDB lets one process write a file at a time. When a run holds the database, a POST is not lost: its token is
appended to a queue file beside the database (``<db>.unsubscribe-queue``), the answer is the same, and the next
run applies the queue before it delivers anything.
"""

from __future__ import annotations

import html
import logging
import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb

from core.errors import DatabaseBusy
from store import digests as digeststore
from store.db import connect

log = logging.getLogger("undercurrent.unsubscribe")
MAX_BODY = 4096


def queue_path(db: Path) -> Path:
    return db.with_name(db.name + ".unsubscribe-queue")


def _queue(db: Path, token: str) -> None:
    with _QUEUE_LOCK, open(queue_path(db), "a", encoding="utf-8") as handle:
        handle.write(token + "\n")
        handle.flush()
        os.fsync(handle.fileno())


_QUEUE_LOCK = threading.Lock()


def apply_queued_unsubscribes(con: duckdb.DuckDBPyConnection, db: Path) -> int:
    """Apply unsubscribes queued while the database was busy; returns how many tokens matched a subscriber."""
    path = queue_path(db)
    if not path.exists():
        return 0
    claimed = path.with_name(path.name + ".applying")
    with _QUEUE_LOCK:
        path.replace(claimed)
    tokens = [line.strip() for line in claimed.read_text(encoding="utf-8").splitlines() if line.strip()]
    applied = sum(digeststore.unsubscribe_token(con, token) is not None for token in dict.fromkeys(tokens))
    claimed.unlink()
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
    db: Path  # set on the subclass the server is made with

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _token(self) -> str | None:
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") != "/unsubscribe":
            return None
        values = parse_qs(parts.query).get("t", [])
        return values[0] if len(values) == 1 and 8 <= len(values[0]) <= 200 else ""

    def _send(self, status: HTTPStatus, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self) -> None:
        self._send(HTTPStatus.NOT_FOUND, _page("Link not valid", "<p>This unsubscribe link is not valid.</p>"))

    def do_GET(self) -> None:
        token = self._token()
        if not token:
            return self._not_found()
        try:
            with connect(self.db, must_exist=True) as con:
                found = digeststore.subscriber_by_token(con, token)
        except DatabaseBusy:  # a run holds the database: offer the button anyway, a POST will be queued
            found = ("your address", "active")
        if found is None:
            return self._not_found()
        email, status = found
        if status != "active":
            body = f"<p>{html.escape(email)} is not subscribed to the Undercurrent brief.</p>"
            return self._send(HTTPStatus.OK, _page("Already unsubscribed", body))
        action = html.escape(self.path, quote=True)
        body = (
            f"<p>Stop sending the Undercurrent brief to {html.escape(email)}?</p>"
            f'<form method=post action="{action}"><button type=submit '
            'style="font-size:1rem;padding:.6rem 1.2rem">Unsubscribe</button></form>'
        )
        self._send(HTTPStatus.OK, _page("Unsubscribe", body))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _page("Too large", ""))
        self.rfile.read(length)  # "List-Unsubscribe=One-Click", or the form's empty body: the token decides
        token = self._token()
        if not token:
            return self._not_found()
        try:
            with connect(self.db, must_exist=True) as con:
                email = digeststore.unsubscribe_token(con, token)
        except DatabaseBusy:
            _queue(self.db, token)
            email = "your address"
        if email is None:
            return self._not_found()
        body = f"<p>{html.escape(email)} will receive no more Undercurrent briefs.</p>"
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
