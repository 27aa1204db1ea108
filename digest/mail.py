"""Building the email for one subscriber (pure): headers safe from injection, text part always present."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, parseaddr

from core.ids import stable_id
from digest.render import Rendered, single_line


def message_id(day: date, subscriber_id: str, domain: str) -> str:
    """Deterministic per (date, subscriber), so a resend is recognisable as the same message."""
    return f"<{stable_id('digest', day.isoformat(), subscriber_id)}@{domain}>"


def build_message(rendered: Rendered, day: date, sender: str, recipient: str, subscriber_id: str) -> EmailMessage:
    name, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "localhost"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((single_line(name), address)) if name else address
    msg["To"] = single_line(recipient)
    msg["Subject"] = single_line(rendered.subject)
    msg["Date"] = f"{day.strftime('%a, %d %b %Y')} 07:00:00 +0000"
    msg["Message-ID"] = message_id(day, subscriber_id, domain)
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg
