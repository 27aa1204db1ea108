"""Every SMTP fault in FAULTS.md against a scripted SMTP server on loopback: at most one delivery per (date,
subscriber), a recorded state, and a retry only where nothing can have been handed over."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.delivery import SmtpMailer
from flows.stages import deliver_stage
from store.db import open_db
from store.digests import add_subscriber
from tests.test_delivery import DAY, _rendered

SENDER = "Undercurrent <brief@example.org>"


class ScriptedServer:
    """A minimal SMTP server speaking real SMTP over a socket, misbehaving at one chosen point."""

    def __init__(self, fault: str | None) -> None:
        self.fault = fault
        self.messages: list[bytes] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                try:
                    self._session(conn)
                except OSError:
                    pass

    def _session(self, conn: socket.socket) -> None:
        files = conn.makefile("rb")

        def say(line: str) -> None:
            conn.sendall(line.encode() + b"\r\n")

        if self.fault == "greeting 421":
            return say("421 4.3.2 too busy, try later")
        if self.fault == "slow greeting":
            time.sleep(3)
        say("220 scripted ESMTP")
        while line := files.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                say("250 scripted")
            elif verb == b"MAIL":
                say("421 4.4.5 shutting down" if self.fault == "mail 421" else "250 sender ok")
            elif verb == b"RCPT":
                replies = {"rcpt 452": "452 4.2.2 mailbox full", "rcpt 550": "550 5.1.1 no such user"}
                say(replies.get(self.fault or "", "250 recipient ok"))
            elif verb == b"DATA":
                say("354 go ahead")
                body = b""
                while (chunk := files.readline()) not in (b".\r\n", b""):
                    body += chunk
                self.messages.append(body)
                if self.fault == "drop before reply":
                    return  # the connection ends before the server answers: delivered or not, nobody knows
                if self.fault == "slow reply":
                    time.sleep(3)
                say("250 2.0.0 queued")
                if self.fault == "drop after 250":
                    return  # accepted, then gone before QUIT: smtplib raises, the message was delivered
            elif verb == b"QUIT":
                return say("221 bye")
            else:
                say("250 ok")

    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def good() -> Iterator[ScriptedServer]:
    server = ScriptedServer(None)
    yield server
    server.close()


# fault -> (state recorded, whether the next run may try again)
FAULTS = {
    "greeting 421": ("failed", True),
    "slow greeting": ("failed", True),
    "mail 421": ("failed", True),
    "rcpt 452": ("failed", True),
    "rcpt 550": ("bounced", False),
    "drop before reply": ("unknown", False),
    "slow reply": ("unknown", False),
    "drop after 250": ("sent", False),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_recorded_and_never_causes_a_second_copy(
    fault: str, tmp_path: Path, good: ScriptedServer
) -> None:
    state, retried = FAULTS[fault]
    bad = ScriptedServer(fault)
    con = open_db(tmp_path / "faults.duckdb")
    add_subscriber(con, "reader@example.com")
    try:
        deliver_stage(con, DAY, _rendered(), SmtpMailer(bad.url(), timeout=1), SENDER)
        row = con.execute("SELECT status, detail FROM deliveries").fetchone()
        assert row[0] == state, row
        assert row[1]  # a reason (or the server's reply) is kept
        # the next run, against a healthy server
        deliver_stage(con, DAY, _rendered(), SmtpMailer(good.url(), timeout=5), SENDER)
        copies = len(bad.messages) + len(good.messages)
        handed_over = state in ("sent", "unknown")
        assert copies == (1 if retried or handed_over else 0)
        assert len(good.messages) == (1 if retried else 0)
        final = con.execute("SELECT status FROM deliveries").fetchone()[0]
        assert final == ("sent" if retried else state)
        assert con.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 1
    finally:
        con.close()
        bad.close()
