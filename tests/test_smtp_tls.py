"""SMTP with STARTTLS and with implicit TLS, both with authentication, against aiosmtpd on loopback using a
certificate made for the test (trusted through SSL_CERT_FILE, as an operator's own CA would be)."""

from __future__ import annotations

import datetime
import email
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest.delivery import SmtpMailer
from flows.stages import deliver_stage
from store.db import open_db
from store.digests import add_subscriber
from tests.test_delivery import DAY, _rendered

USER, PASSWORD = "brief", "s3cret pass/word"
# the implicit-TLS server below is encrypted; aiosmtpd warns because it cannot tell
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def _certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def _authenticator(inbox: Inbox) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == USER and data.password.decode() == PASSWORD
        if ok:
            inbox.logins.append(mechanism)
        return AuthResult(success=ok)

    return check


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["starttls", "implicit"])
def tls_server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Inbox]]:
    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), _port()
    common = {"authenticator": _authenticator(inbox), "auth_required": True}
    if request.param == "starttls":
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True, **common
        )
        url = f"smtp://{USER}:s3cret%20pass%2Fword@127.0.0.1:{port}?starttls=true"
    else:
        # aiosmtpd does not count an implicit-TLS session as encrypted for AUTH, although it is
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, ssl_context=context, auth_require_tls=False, **common
        )
        url = f"smtps://{USER}:s3cret%20pass%2Fword@127.0.0.1:{port}"
    controller.start()
    yield url, inbox
    controller.stop()


def test_encrypted_and_authenticated_delivery(tmp_path: Path, tls_server: tuple[str, Inbox]) -> None:
    url, inbox = tls_server
    con = open_db(tmp_path / "tls.duckdb")
    add_subscriber(con, "reader@example.com")
    report = deliver_stage(con, DAY, _rendered(), SmtpMailer(url, timeout=5), "Undercurrent <brief@example.org>")
    assert report.sent == 1 and len(inbox.messages) == 1 and inbox.logins
    message = email.message_from_bytes(inbox.messages[0])
    assert message["To"] == "reader@example.com"
    con.close()


def test_a_wrong_password_sends_nothing_and_is_retried_later(tmp_path: Path, tls_server: tuple[str, Inbox]) -> None:
    url, inbox = tls_server
    con = open_db(tmp_path / "auth.duckdb")
    add_subscriber(con, "reader@example.com")
    wrong = url.replace("s3cret%20pass%2Fword", "wrong")
    report = deliver_stage(con, DAY, _rendered(), SmtpMailer(wrong, timeout=5), "brief@example.org")
    assert report.failed == 1 and inbox.messages == []
    status, detail = con.execute("SELECT status, detail FROM deliveries").fetchone()
    assert status == "failed" and "wrong" not in detail  # recorded for the operator, without the password
    assert deliver_stage(con, DAY, _rendered(), SmtpMailer(url, timeout=5), "brief@example.org").sent == 1
    con.close()


def test_a_certificate_nobody_trusts_is_refused(
    tmp_path: Path, tls_server: tuple[str, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, inbox = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nothing.pem"))
    con = open_db(tmp_path / "untrusted.duckdb")
    add_subscriber(con, "reader@example.com")
    report = deliver_stage(con, DAY, _rendered(), SmtpMailer(url, timeout=5), "brief@example.org")
    assert report.failed == 1 and inbox.messages == [] and inbox.logins == []  # the password never left
    assert "certificate" in con.execute("SELECT detail FROM deliveries").fetchone()[0].lower()
    con.close()
