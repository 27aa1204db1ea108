"""Delivery against a real SMTP server on loopback: sent once, bounces and drops never resent."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.models import Digest, SourceRef
from digest.delivery import OutboxMailer, SmtpMailer
from digest.render import render
from digest.select import Candidate, ThemeInfo, select_items
from flows.stages import deliver_stage
from store.db import open_db
from store.digests import add_subscriber

DAY = date(2026, 11, 21)


class Recorder:
    """Accepts mail, but refuses one recipient at RCPT and drops the connection during DATA for another."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(r.startswith("dropped@") for r in envelope.rcpt_tos):
            server.transport.close()  # the connection drops before the server answers
            return "250 OK"
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK queued"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", recorder
    controller.stop()


def _rendered() -> Any:
    ref = SourceRef("Outlet", "Title", "https://a.example/x", DAY, "article")
    items = select_items(
        [Candidate("c1", 1, "China's open models are a loss leader.", 0.9, 0.9, True, "a", DAY, ref)],
        {1: ThemeInfo(1, "loss leader")},
    )
    return render(Digest(DAY, tuple(items), "Undercurrent daily brief"))


def _statuses(con: Any) -> dict[str, str]:
    rows = con.execute("SELECT s.email, d.status FROM deliveries d JOIN subscribers s USING (subscriber_id)").fetchall()
    return dict(rows)


def test_smtp_delivery_outcomes_and_no_second_send(tmp_path: Path, smtp_server: tuple[str, Recorder]) -> None:
    url, recorder = smtp_server
    con = open_db(tmp_path / "mail.duckdb")
    for address in ("ok@example.com", "refused@example.com", "dropped@example.com"):
        add_subscriber(con, address)
    mailer = SmtpMailer(url, timeout=5)
    report = deliver_stage(con, DAY, _rendered(), mailer, "Undercurrent <brief@example.org>")
    assert (report.sent, report.failed, report.uncertain) == (1, 1, 1)
    assert _statuses(con) == {
        "ok@example.com": "sent",
        "refused@example.com": "bounced",
        "dropped@example.com": "unknown",
    }
    assert len(recorder.messages) == 1
    recipients, content = recorder.messages[0]
    assert recipients == ["ok@example.com"]
    message = email.message_from_bytes(content)
    assert message["Subject"].startswith("Undercurrent daily brief")
    assert {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}

    again = deliver_stage(con, DAY, _rendered(), mailer, "Undercurrent <brief@example.org>")
    assert (again.sent, again.failed, again.uncertain) == (0, 0, 0)
    assert len(recorder.messages) == 1
    con.close()


def test_server_down_is_retried_on_the_next_run(tmp_path: Path, smtp_server: tuple[str, Recorder]) -> None:
    url, recorder = smtp_server
    con = open_db(tmp_path / "retry.duckdb")
    add_subscriber(con, "ok@example.com")
    down = SmtpMailer("smtp://127.0.0.1:1", timeout=2)
    assert deliver_stage(con, DAY, _rendered(), down, "brief@example.org").failed == 1
    assert _statuses(con) == {"ok@example.com": "failed"}
    assert deliver_stage(con, DAY, _rendered(), SmtpMailer(url, timeout=5), "brief@example.org").sent == 1
    assert _statuses(con) == {"ok@example.com": "sent"} and len(recorder.messages) == 1
    con.close()


def test_crash_leaves_pending_which_is_not_resent(tmp_path: Path) -> None:
    con = open_db(tmp_path / "crash.duckdb")
    add_subscriber(con, "ok@example.com")
    sub_id = con.execute("SELECT subscriber_id FROM subscribers").fetchone()[0]
    con.execute("INSERT INTO deliveries VALUES (?, ?, 'pending', '<m@x>', 'smtp', NULL, now())", [DAY, sub_id])
    report = deliver_stage(con, DAY, _rendered(), OutboxMailer(tmp_path / "outbox"), "brief@example.org")
    assert report.sent == 0 and not (tmp_path / "outbox").exists()
    con.close()


@pytest.mark.parametrize("url", ["smtp://host:port", "http://host", "smtp://", "smtps:///nohost"])
def test_bad_smtp_urls_are_user_errors(url: str) -> None:
    from core.errors import UserError

    with pytest.raises(UserError, match="UNDERCURRENT_SMTP_URL"):
        SmtpMailer(url)


def test_a_crash_between_writing_and_recording_an_outbox_file_is_settled_from_the_disk(tmp_path: Path) -> None:
    con = open_db(tmp_path / "outbox.duckdb")
    for address in ("written@example.com", "unwritten@example.com"):
        add_subscriber(con, address)
    ids = dict(con.execute("SELECT email, subscriber_id FROM subscribers").fetchall())
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    done = outbox / f"{DAY.isoformat()}-{ids['written@example.com']}.eml"
    done.write_bytes(b"the message, written just before the crash")
    for sub_id in ids.values():
        con.execute("INSERT INTO deliveries VALUES (?, ?, 'pending', '<m@x>', 'outbox', NULL, now())", [DAY, sub_id])
    report = deliver_stage(con, DAY, _rendered(), OutboxMailer(outbox), "brief@example.org")
    assert report.sent == 1  # only the one whose file never appeared
    assert done.read_bytes() == b"the message, written just before the crash"  # not written twice
    assert _statuses(con) == {"written@example.com": "written", "unwritten@example.com": "written"}
    assert len(list(outbox.glob("*.eml"))) == 2
    con.close()
