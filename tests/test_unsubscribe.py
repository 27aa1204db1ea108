"""One-click unsubscribe (RFC 8058) over real HTTP on loopback, with mail from a real SMTP server on loopback."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from digest.delivery import SmtpMailer
from flows.stages import deliver_stage
from flows.unsubscribe import apply_queued_unsubscribes, make_server, queue_path
from store.db import open_db
from store.digests import add_subscriber
from tests.test_delivery import DAY, Recorder, _rendered, smtp_server  # noqa: F401 - the fixture is used

SENDER = "Undercurrent <brief@example.org>"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    db = tmp_path / "subs.duckdb"
    con = open_db(db)
    for address in ("ana@example.com", "ben@example.com"):
        add_subscriber(con, address)
    con.close()
    server = make_server(db, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield db, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _subscriber(db: Path, address: str, column: str) -> str:
    con = open_db(db)
    try:
        return con.execute(f"SELECT {column} FROM subscribers WHERE email = ?", [address]).fetchone()[0]
    finally:
        con.close()


def _token(db: Path, address: str) -> str:
    return _subscriber(db, address, "unsubscribe_token")


def _status(db: Path, address: str) -> str:
    return _subscriber(db, address, "status")


def test_get_changes_nothing_post_unsubscribes_once_and_strangers_learn_nothing(served: tuple[Path, str]) -> None:
    db, base = served
    token = _token(db, "ana@example.com")
    assert len(token) >= 24 and token != _token(db, "ben@example.com")
    page = httpx.get(f"{base}/unsubscribe", params={"t": token})
    assert page.status_code == 200 and "ana@example.com" in page.text and "<form method=post" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert _status(db, "ana@example.com") == "active"  # a link preview or scanner unsubscribes nobody
    one_click = httpx.post(
        f"{base}/unsubscribe",
        params={"t": token},
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "no more" in one_click.text
    assert _status(db, "ana@example.com") == "unsubscribed"
    assert _status(db, "ben@example.com") == "active"
    again = httpx.post(f"{base}/unsubscribe", params={"t": token})
    assert again.status_code == 200  # idempotent
    assert "Already unsubscribed" in httpx.get(f"{base}/unsubscribe", params={"t": token}).text
    for bad in ({"t": "not-a-token-of-anyone"}, {}, {"t": ""}):
        answer = httpx.post(f"{base}/unsubscribe", params=bad)
        assert answer.status_code == 404 and "@" not in answer.text
    assert httpx.get(f"{base}/other", params={"t": token}).status_code == 404
    assert httpx.put(f"{base}/unsubscribe", params={"t": token}).status_code == 405
    assert httpx.post(f"{base}/unsubscribe", params={"t": token}, content=b"x" * 10_000).status_code == 413


def hold_database(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that opens the database for writing, prints 'held', and keeps it for ``seconds``."""
    code = f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep({seconds})"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_a_click_while_a_run_holds_the_database_is_queued_and_applied_by_the_next_run(
    served: tuple[Path, str],
) -> None:
    db, base = served
    token = _token(db, "ben@example.com")
    holder = hold_database(db, seconds=30)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        answer = httpx.post(f"{base}/unsubscribe", params={"t": token}, timeout=10)
        assert answer.status_code == 200 and "no more" in answer.text
        assert queue_path(db).read_text().split() == [token]
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.2)
    assert _status(db, "ben@example.com") == "active"  # not yet: the run applies it
    con = open_db(db)
    assert apply_queued_unsubscribes(con, db) == 1
    assert apply_queued_unsubscribes(con, db) == 0  # the queue is consumed once
    con.close()
    assert _status(db, "ben@example.com") == "unsubscribed"
    assert not queue_path(db).exists()


def test_every_message_carries_its_own_one_click_link_which_stops_the_next_brief(
    served: tuple[Path, str],
    smtp_server: tuple[str, Recorder],  # noqa: F811
) -> None:
    db, base = served
    url, recorder = smtp_server
    con = open_db(db)
    report = deliver_stage(con, DAY, _rendered(), SmtpMailer(url, timeout=5), SENDER, public_url=base)
    con.close()
    assert report.sent == 2 and len(recorder.messages) == 2
    links = {}
    for recipients, content in recorder.messages:
        message = email.message_from_bytes(content)
        header = message["List-Unsubscribe"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = header.split(",")[0].strip().strip("<>")
        assert "mailto:brief@example.org" in header
        assert parse_qs(urlsplit(link).query)["t"] == [_token(db, recipients[0])]
        parts = {
            p.get_content_type(): p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()
        }
        assert link in parts["text/plain"] and link.replace("&", "&amp;") in parts["text/html"]
        links[recipients[0]] = link
    assert httpx.post(links["ana@example.com"], content=b"List-Unsubscribe=One-Click").status_code == 200
    con = open_db(db)
    nxt = deliver_stage(con, DAY + timedelta(days=1), _rendered(), SmtpMailer(url, timeout=5), SENDER, public_url=base)
    con.close()
    assert nxt.sent == 1
    assert [r for r, _ in recorder.messages[2:]] == [["ben@example.com"]]


def test_without_a_public_address_messages_offer_a_mail_to_unsubscribe(
    tmp_path: Path,
    smtp_server: tuple[str, Recorder],  # noqa: F811
) -> None:
    url, recorder = smtp_server
    con = open_db(tmp_path / "plain.duckdb")
    add_subscriber(con, "ana@example.com")
    deliver_stage(con, DAY, _rendered(), SmtpMailer(url, timeout=5), SENDER)
    con.close()
    message = email.message_from_bytes(recorder.messages[0][1])
    assert message["List-Unsubscribe"] == "<mailto:brief@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None  # one-click needs an https link


def _raw(base: str, request: bytes) -> bytes:
    import socket

    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_hostile_requests_get_nothing(served: tuple[Path, str]) -> None:
    db, base = served
    token = _token(db, "ana@example.com")
    # a path that reads as another host must not become the form's target
    answer = _raw(
        base, f"GET //evil.example/unsubscribe?t={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert answer.startswith(b"HTTP/1.0 404") and b"evil" not in answer
    page = httpx.get(f"{base}/unsubscribe", params={"t": token}).text
    assert f'action="/unsubscribe?t={token}"' in page
    negative = _raw(
        base,
        f"POST /unsubscribe?t={token} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n".encode(),
    )
    assert negative.startswith(b"HTTP/1.0 400")
    bad_length = _raw(
        base,
        f"POST /unsubscribe?t={token} HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\nConnection: close\r\n\r\n".encode(),
    )
    assert bad_length.startswith(b"HTTP/1.0 400")
    assert _status(db, "ana@example.com") == "active"


def test_tokens_are_random_and_subscribers_from_before_get_one(tmp_path: Path) -> None:
    from store.digests import ensure_tokens

    con = open_db(tmp_path / "old.duckdb")
    add_subscriber(con, "old@example.com")
    con.execute("UPDATE subscribers SET unsubscribe_token = NULL")  # as a database from before tokens
    assert ensure_tokens(con) == 1 and ensure_tokens(con) == 0
    token = con.execute("SELECT unsubscribe_token FROM subscribers").fetchone()[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    con.close()


def test_a_run_waits_for_the_server_to_let_go_of_the_database(tmp_path: Path) -> None:
    db = tmp_path / "shared.duckdb"
    open_db(db).close()
    holder = hold_database(db, seconds=1.5)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    from core.errors import DatabaseBusy

    with pytest.raises(DatabaseBusy):
        open_db(db, busy_wait=0)
    start = time.monotonic()
    con = open_db(db, busy_wait=20)  # what a run does: it waits, then goes on
    assert time.monotonic() - start > 0.3
    con.close()
    holder.wait()
