"""Building the email for one subscriber (pure): headers safe from injection, text part always present."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, parseaddr
from html import escape
from urllib.parse import urlencode

from core.ids import stable_id
from digest.render import Rendered, single_line


def message_id(day: date, subscriber_id: str, domain: str) -> str:
    """Deterministic per (date, subscriber), so a resend is recognisable as the same message."""
    return f"<{stable_id('digest', day.isoformat(), subscriber_id)}@{domain}>"


def unsubscribe_link(public_url: str | None, token: str | None) -> str | None:
    """The subscriber's one-click unsubscribe URL, when the service has a public address."""
    if not public_url or not token:
        return None
    return f"{public_url.rstrip('/')}/unsubscribe?{urlencode({'t': token})}"


def build_message(
    rendered: Rendered,
    day: date,
    sender: str,
    recipient: str,
    subscriber_id: str,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """The message for one subscriber.

    With an ``unsubscribe_url`` (https, or http on a private test setup) it carries RFC 8058's
    ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers, and both parts end with the link; without one,
    ``List-Unsubscribe`` offers a mail to the sender and the footer says how to stop the brief.
    """
    name, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "localhost"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((single_line(name), address)) if name else address
    msg["To"] = single_line(recipient)
    msg["Subject"] = single_line(rendered.subject)
    msg["Date"] = f"{day.strftime('%a, %d %b %Y')} 07:00:00 +0000"
    msg["Message-ID"] = message_id(day, subscriber_id, domain)
    mailto = f"mailto:{address}?subject=unsubscribe" if address else None
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>" + (f", <{mailto}>" if mailto else "")
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        footer_text = f"Unsubscribe: {unsubscribe_url}"
        footer_html = f'<a href="{escape(unsubscribe_url)}" style="color:#0b57d0;">Unsubscribe</a>'
    else:
        if mailto:
            msg["List-Unsubscribe"] = f"<{mailto}>"
        footer_text = f"To stop this brief, reply with the subject 'unsubscribe' ({address})."
        footer_html = escape(footer_text)
    msg.set_content(rendered.text.rstrip("\n") + "\n\n" + footer_text + "\n")
    html = rendered.html
    marker = html.rfind("</body>")
    style = "color:#4a4f57;font-size:12px;margin:0 16px 24px;text-align:center;"
    block = f'<p class="meta" style="{style}">{footer_html}</p>\n'
    html = html[:marker] + block + html[marker:] if marker >= 0 else html + block
    msg.add_alternative(html, subtype="html")
    return msg
