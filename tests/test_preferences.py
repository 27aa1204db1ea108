"""Personalised briefs on the sample run's database: focus, followed and muted themes, delivered to the outbox."""

from __future__ import annotations

import email
from pathlib import Path

import duckdb
import pytest

from digest.delivery import OutboxMailer
from flows.demo import SAMPLE_DATE
from flows.stages import deliver_stage
from store.digests import add_subscriber, load_rendered, set_preferences

pytestmark = pytest.mark.slow


def _html(path: str) -> str:
    message = email.message_from_bytes(Path(path).read_bytes())
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode().replace("\r\n", "\n")


def test_each_subscriber_gets_the_brief_their_preferences_select(sample_db: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(sample_db))
    lead_theme, lead_headline = con.execute(
        "SELECT theme_id, headline FROM digest_items WHERE digest_date = ? AND rank = 1", [SAMPLE_DATE]
    ).fetchone()
    for address in ("plain@example.com", "muted@example.com", "us@example.com", "nothing@example.com"):
        add_subscriber(con, address)
    set_preferences(con, "muted@example.com", None, [], [lead_theme], clear=False)
    set_preferences(con, "us@example.com", "US", [], [], clear=False)
    every_theme = [r[0] for r in con.execute("SELECT theme_id FROM themes").fetchall()]
    set_preferences(con, "nothing@example.com", None, [], every_theme, clear=False)
    with pytest.raises(ValueError, match="no theme 99999"):
        set_preferences(con, "plain@example.com", None, [99999], [], clear=False)
    report = deliver_stage(con, SAMPLE_DATE, load_rendered(con, SAMPLE_DATE), OutboxMailer(tmp_path), "b@example.org")
    assert (report.sent, report.personalised, report.skipped) == (3, 2, 1)
    files = dict(
        con.execute(
            "SELECT s.email, d.detail FROM deliveries d JOIN subscribers s USING (subscriber_id) "
            "WHERE d.digest_date = ? AND d.status = 'written'",
            [SAMPLE_DATE],
        ).fetchall()
    )
    assert con.execute(
        "SELECT d.status FROM deliveries d JOIN subscribers s USING (subscriber_id) WHERE s.email = ?",
        ["nothing@example.com"],
    ).fetchone() == ("skipped",)
    stored = load_rendered(con, SAMPLE_DATE)
    assert stored is not None and stored.html.split("</body>")[0] in _html(files["plain@example.com"])
    assert lead_headline in _html(files["plain@example.com"])
    assert lead_headline not in _html(files["muted@example.com"])  # the muted theme is gone
    # the US-focused brief leads only with claims naming the US
    us_html = _html(files["us@example.com"])
    assert us_html != _html(files["plain@example.com"])
    us_claims = {
        r[0]
        for r in con.execute(
            "SELECT text FROM claims WHERE list_contains(actors, 'US') AND claim_id IN "
            "(SELECT claim_id FROM claim_themes)"
        ).fetchall()
    }
    led = [t for t in us_claims if t.replace("'", "&#39;").replace('"', "&#34;") in us_html or t in us_html]
    assert len(led) >= 3
    # what a personalised brief featured is never featured for that subscriber again
    from datetime import timedelta

    from store.digests import featured_claims

    ids = dict(con.execute("SELECT email, subscriber_id FROM subscribers").fetchall())
    sent_to_muted = {
        r[0]
        for r in con.execute(
            "SELECT claim_id FROM personal_items WHERE subscriber_id = ?", [ids["muted@example.com"]]
        ).fetchall()
    }
    assert len(sent_to_muted) == 5
    tomorrow = SAMPLE_DATE + timedelta(days=1)
    assert sent_to_muted <= featured_claims(con, tomorrow, ids["muted@example.com"])
    assert not sent_to_muted <= featured_claims(con, tomorrow, ids["plain@example.com"])
    again = deliver_stage(con, SAMPLE_DATE, stored, OutboxMailer(tmp_path), "b@example.org")
    assert (again.sent, again.skipped) == (0, 0)  # a rerun sends nothing twice, and skips are final for the day
    con.close()
