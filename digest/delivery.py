"""The mail edge: SMTP when configured, otherwise .eml files in an outbox folder.

Outcomes a caller must tell apart, so nothing is ever sent twice:
- success: the server accepted the message (250 after DATA) or the file was written;
- ``TransientError``: nothing was handed over (connection, greeting, 4xx before DATA): safe to retry;
- ``PermanentError``: the recipient or sender was refused (5xx before DATA): do not retry;
- ``DeliveryUncertain``: the connection failed while the message was being handed over: it may have been
  delivered, so it is not retried automatically.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from core.errors import PermanentError, TransientError, UndercurrentError, UserError


class DeliveryUncertain(UndercurrentError):
    """The server may or may not have accepted the message."""


class Mailer(Protocol):
    channel: str

    def send(self, message: EmailMessage, filename: str) -> str:
        """Deliver; returns a detail to record (outbox path or server reply)."""
        ...


class OutboxMailer:
    channel = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage, filename: str) -> str:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / filename
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(bytes(message))
            temporary.replace(path)
        except OSError as exc:
            raise PermanentError(f"cannot write to outbox {self.folder}: {exc.strerror}") from None
        return str(path)


class SmtpMailer:
    channel = "smtp"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname or port == -1:
            raise UserError("UNDERCURRENT_SMTP_URL must look like smtp://user:pass@host:port or smtps://host:port")
        self.ssl = parts.scheme == "smtps"
        self.starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.host = parts.hostname
        self.port = port or (465 if self.ssl else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, message: EmailMessage, filename: str) -> str:
        sender, recipient = str(message["From"]), str(message["To"])
        where = f"SMTP {self.host}:{self.port}"
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"{where}: {exc}") from None
        try:
            try:
                client.ehlo_or_helo_if_needed()
                if self.user:
                    client.login(self.user, self.password or "")
                code, reply = client.mail(_address(sender))
                _check(code, reply, "sender")
                code, reply = client.rcpt(_address(recipient))
                _check(code, reply, "recipient")
            except (smtplib.SMTPException, OSError) as exc:
                raise TransientError(f"{where}: {exc}") from None
            try:
                code, reply = client.data(message.as_bytes())
            except smtplib.SMTPDataError as exc:
                _check(exc.smtp_code, exc.smtp_error, "message")
                raise DeliveryUncertain(f"{where}: unexpected reply to DATA: {exc}") from None
            except (smtplib.SMTPException, OSError) as exc:
                raise DeliveryUncertain(f"{where} dropped during DATA: {exc}") from None
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the message was accepted; a failed goodbye changes nothing
        finally:
            client.close()
        return f"{where} {code} {reply.decode(errors='replace')[:200]}"


def _address(header: str) -> str:
    return parseaddr(header)[1]


def _check(code: int, reply: bytes, what: str) -> None:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    if code >= 500:
        raise PermanentError(f"{what} refused: {code} {text}")
    if code >= 400:
        raise TransientError(f"{what} deferred: {code} {text}")
