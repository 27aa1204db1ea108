"""Digests, digest items, the selector's candidates, subscribers and deliveries."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

import duckdb

from core.ids import stable_id
from core.models import Digest, SourceRef
from digest.render import Rendered
from digest.select import Candidate, Preferences, ThemeInfo
from store.db import transaction, utc_now


def digest_exists(con: duckdb.DuckDBPyConnection, day: date) -> bool:
    return con.execute("SELECT count(*) FROM digests WHERE digest_date = ?", [day]).fetchone()[0] > 0  # type: ignore[index]


def item_count(con: duckdb.DuckDBPyConnection, day: date) -> int:
    return con.execute("SELECT count(*) FROM digest_items WHERE digest_date = ?", [day]).fetchone()[0]  # type: ignore[index]


def previous_digest_time(con: duckdb.DuckDBPyConnection, day: date) -> datetime | None:
    """When the latest brief before ``day`` was made (None when there is none)."""
    row = con.execute(
        "SELECT created_at FROM digests WHERE digest_date < ? ORDER BY digest_date DESC LIMIT 1", [day]
    ).fetchone()
    return row[0] if row else None


def candidates(con: duckdb.DuckDBPyConnection, day: date, since: datetime | None) -> list[Candidate]:
    """Every themed claim up to ``day``; ``is_new`` when processed after the previous brief was made.

    Material processed by a rerun of an earlier date, after that date's brief, is new for the next brief.
    """
    rows = con.execute(
        """
        SELECT c.claim_id, t.theme_id, c.text, c.score, coalesce(t.similarity, 0),
               d.processed_at > coalesce(?::TIMESTAMP, TIMESTAMP '0001-01-01') AS is_new,
               coalesce(d.source_id, d.document_id), CAST(d.published_at AS DATE),
               coalesce(s.name, d.title), d.title,
               CASE WHEN d.kind = 'transcript' AND d.audio_url IS NOT NULL AND c.start_seconds IS NOT NULL
                         AND isfinite(c.start_seconds) AND c.start_seconds >= 0
                    THEN split_part(d.audio_url, '#', 1) || '#t=' || CAST(floor(c.start_seconds) AS BIGINT)
                    ELSE coalesce(d.url, d.audio_url) END,
               d.kind, c.speaker, c.start_seconds, coalesce(c.same_as, c.claim_id), c.actors
        FROM claims c JOIN claim_themes t USING (claim_id) JOIN documents d USING (document_id)
        LEFT JOIN sources s USING (source_id)
        WHERE d.processed_for <= ?
        ORDER BY c.claim_id
        """,
        [since, day],
    ).fetchall()
    return [
        Candidate(
            claim_id=r[0],
            theme_id=r[1],
            text=r[2],
            score=r[3],
            similarity=r[4],
            is_new=bool(r[5]),
            source_key=r[6],
            day=r[7],
            ref=SourceRef(
                outlet=r[8], title=r[9], url=r[10], published=r[7], kind=r[11], speaker=r[12], start_seconds=r[13]
            ),
            idea=r[14],
            actors=tuple(r[15] or ()),
        )
        for r in rows
    ]


def theme_infos(con: duckdb.DuckDBPyConnection, day: date, recent_days: int = 3) -> dict[int, ThemeInfo]:
    """Live themes with what the selector weighs: featured in the last ``recent_days`` briefs, the day's
    momentum (theme_daily), the centroid, and whether the theme led the last brief before ``day``."""
    recent = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT theme_id FROM digest_items WHERE digest_date < ? AND digest_date >= ? - ?::INTEGER",
            [day, day, recent_days],
        ).fetchall()
    }
    led = con.execute(
        "SELECT theme_id FROM digest_items WHERE rank = 1 AND digest_date = "
        "(SELECT max(digest_date) FROM digests WHERE digest_date < ?)",
        [day],
    ).fetchone()
    rows = con.execute(
        "SELECT th.theme_id, th.label, d.momentum, th.centroid "
        "FROM themes th LEFT JOIN theme_daily d ON d.theme_id = th.theme_id AND d.day = ? "
        "WHERE th.merged_into IS NULL",
        [day],
    ).fetchall()
    return {
        r[0]: ThemeInfo(
            r[0],
            r[1],
            r[0] in recent,
            momentum=r[2],
            centroid=tuple(r[3]) if r[3] is not None else None,
            led_last_brief=bool(led and led[0] == r[0]),
        )
        for r in rows
    }


def featured_claims(con: duckdb.DuckDBPyConnection, day: date, subscriber_id: str | None = None) -> frozenset[str]:
    """Claims featured in briefs before ``day``: the day's briefs, and with ``subscriber_id`` also that
    subscriber's personalised ones."""
    rows = con.execute(
        "SELECT claim_id FROM digest_items WHERE digest_date < $day UNION "
        "SELECT claim_id FROM personal_items WHERE digest_date < $day AND subscriber_id = $subscriber",
        {"day": day, "subscriber": subscriber_id},
    ).fetchall()
    return frozenset(r[0] for r in rows)


def save_personal_items(con: duckdb.DuckDBPyConnection, day: date, subscriber_id: str, items: list[Any]) -> None:
    con.execute("DELETE FROM personal_items WHERE digest_date = ? AND subscriber_id = ?", [day, subscriber_id])
    for item in items:
        con.execute(
            "INSERT INTO personal_items VALUES (?, ?, ?, ?, ?)",
            [day, subscriber_id, item.rank, item.claim_id, item.theme_id],
        )


def save_digest(con: duckdb.DuckDBPyConnection, digest: Digest, rendered: Rendered, run_id: str | None) -> None:
    with transaction(con):
        con.execute(
            "INSERT INTO digests (digest_date, run_id, title, subject, html, markdown, text, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                digest.digest_date,
                run_id,
                digest.title,
                rendered.subject,
                rendered.html,
                rendered.markdown,
                rendered.text,
                utc_now(),
            ],
        )
        con.executemany(
            "INSERT INTO digest_items (digest_date, rank, claim_id, theme_id, headline, text, source_count, day_count, "
            "why) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    digest.digest_date,
                    i.rank,
                    i.claim_id,
                    i.theme_id,
                    i.headline,
                    i.text,
                    i.source_count,
                    i.day_count,
                    i.why,
                ]
                for i in digest.items
            ],
        )


def load_rendered(con: duckdb.DuckDBPyConnection, day: date) -> Rendered | None:
    row = con.execute("SELECT subject, html, markdown, text FROM digests WHERE digest_date = ?", [day]).fetchone()
    return Rendered(*row) if row else None


# Subscribers -----------------------------------------------------------------------------------------------


def add_subscriber(con: duckdb.DuckDBPyConnection, email: str) -> bool:
    """Add or reactivate; returns False when already active."""
    row = con.execute("SELECT status FROM subscribers WHERE email = ?", [email]).fetchone()
    if row and row[0] == "active":
        return False
    if row:
        con.execute(
            "UPDATE subscribers SET status = 'active', unsubscribed_at = NULL, "
            "unsubscribe_token = coalesce(unsubscribe_token, ?) WHERE email = ?",
            [secrets.token_urlsafe(24), email],
        )
    else:
        con.execute(
            "INSERT INTO subscribers (subscriber_id, email, status, created_at, unsubscribe_token) "
            "VALUES (?, ?, 'active', ?, ?)",
            [stable_id("sub", email), email, utc_now(), secrets.token_urlsafe(24)],
        )
    return True


def remove_subscriber(con: duckdb.DuckDBPyConnection, email: str) -> bool:
    """Unsubscribe (the row stays, so deliveries keep their history); False when not active."""
    row = con.execute("SELECT status FROM subscribers WHERE email = ?", [email]).fetchone()
    if not row or row[0] != "active":
        return False
    con.execute(
        "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ? WHERE email = ?", [utc_now(), email]
    )
    return True


def list_subscribers(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, datetime]]:
    return con.execute("SELECT email, status, created_at FROM subscribers ORDER BY email").fetchall()


def ensure_tokens(con: duckdb.DuckDBPyConnection) -> int:
    """Give every subscriber without an unsubscribe token a fresh random one; returns how many."""
    ids = [
        r[0] for r in con.execute("SELECT subscriber_id FROM subscribers WHERE unsubscribe_token IS NULL").fetchall()
    ]
    for subscriber_id in ids:
        con.execute(
            "UPDATE subscribers SET unsubscribe_token = ? WHERE subscriber_id = ?",
            [secrets.token_urlsafe(24), subscriber_id],
        )
    return len(ids)


def subscriber_by_token(con: duckdb.DuckDBPyConnection, token: str) -> tuple[str, str] | None:
    """(email, status) of the subscriber an unsubscribe token belongs to."""
    if not token:
        return None
    row = con.execute("SELECT email, status FROM subscribers WHERE unsubscribe_token = ?", [token]).fetchone()
    return (row[0], row[1]) if row else None


def unsubscribe_token(con: duckdb.DuckDBPyConnection, token: str) -> str | None:
    """Unsubscribe the token's subscriber (idempotent); returns the email, None for an unknown token."""
    found = subscriber_by_token(con, token)
    if found is None:
        return None
    con.execute(
        "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = coalesce(unsubscribed_at, ?) "
        "WHERE unsubscribe_token = ? AND status <> 'unsubscribed'",
        [utc_now(), token],
    )
    return found[0]


def preferences_of(con: duckdb.DuckDBPyConnection, subscriber_id: str) -> Preferences:
    focus = con.execute(
        "SELECT coalesce(focus, 'both') FROM subscribers WHERE subscriber_id = ?", [subscriber_id]
    ).fetchone()
    chosen = con.execute(
        "SELECT theme_id, mode FROM subscriber_themes WHERE subscriber_id = ?", [subscriber_id]
    ).fetchall()
    merged_into = dict(con.execute("SELECT theme_id, merged_into FROM themes WHERE merged_into IS NOT NULL").fetchall())

    def live(theme: int) -> int:  # a theme merged into another lives on in it, perhaps after several merges
        seen = set()
        while theme in merged_into and theme not in seen:
            seen.add(theme)
            theme = merged_into[theme]
        return theme

    follow = frozenset(live(theme) for theme, mode in chosen if mode == "follow")
    mute = frozenset(live(theme) for theme, mode in chosen if mode == "mute")
    return Preferences(focus=focus[0] if focus else "both", follow=follow, mute=mute - follow)


def set_preferences(
    con: duckdb.DuckDBPyConnection,
    email: str,
    focus: str | None,
    follow: list[int],
    mute: list[int],
    clear: bool,
) -> Preferences | None:
    """Change a subscriber's preferences; None when there is no such subscriber. Unknown theme ids raise
    ValueError."""
    row = con.execute("SELECT subscriber_id FROM subscribers WHERE email = ?", [email]).fetchone()
    if row is None:
        return None
    subscriber_id = row[0]
    known = {r[0] for r in con.execute("SELECT theme_id FROM themes").fetchall()}
    unknown = sorted(set(follow + mute) - known)
    if unknown:
        raise ValueError(f"no theme {', '.join(map(str, unknown))}")
    with transaction(con):
        if clear:
            con.execute("DELETE FROM subscriber_themes WHERE subscriber_id = ?", [subscriber_id])
            con.execute("UPDATE subscribers SET focus = 'both' WHERE subscriber_id = ?", [subscriber_id])
        if focus is not None:
            con.execute("UPDATE subscribers SET focus = ? WHERE subscriber_id = ?", [focus, subscriber_id])
        for theme_id, mode in [(t, "follow") for t in follow] + [(t, "mute") for t in mute]:
            con.execute(
                "INSERT INTO subscriber_themes VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET mode = excluded.mode",
                [subscriber_id, theme_id, mode],
            )
    return preferences_of(con, subscriber_id)


def pending_recipients(con: duckdb.DuckDBPyConnection, day: date) -> list[tuple[str, str, str]]:
    """(subscriber_id, email, unsubscribe token) of active subscribers to send the digest of ``day`` to.

    Those with no delivery yet, and those whose last attempt failed before anything was handed over.
    """
    return con.execute(
        "SELECT s.subscriber_id, s.email, s.unsubscribe_token FROM subscribers s LEFT JOIN deliveries d "
        "ON d.subscriber_id = s.subscriber_id AND d.digest_date = ? "
        "WHERE s.status = 'active' AND (d.status IS NULL OR d.status = 'failed') ORDER BY s.email",
        [day],
    ).fetchall()


def pending_deliveries(con: duckdb.DuckDBPyConnection, day: date, channel: str) -> list[str]:
    """Subscribers whose delivery of ``day`` a crash left 'pending' on the given channel."""
    rows = con.execute(
        "SELECT subscriber_id FROM deliveries WHERE digest_date = ? AND status = 'pending' AND channel = ? "
        "ORDER BY subscriber_id",
        [day, channel],
    ).fetchall()
    return [r[0] for r in rows]


def set_delivery_status(
    con: duckdb.DuckDBPyConnection, day: date, subscriber_id: str, status: str, detail: str
) -> None:
    con.execute(
        "UPDATE deliveries SET status = ?, detail = ?, updated_at = ? WHERE digest_date = ? AND subscriber_id = ?",
        [status, detail, utc_now(), day, subscriber_id],
    )


def forget_delivery(con: duckdb.DuckDBPyConnection, day: date, subscriber_id: str) -> None:
    con.execute("DELETE FROM deliveries WHERE digest_date = ? AND subscriber_id = ?", [day, subscriber_id])


def record_delivery(
    con: duckdb.DuckDBPyConnection,
    day: date,
    subscriber_id: str,
    status: str,
    message_id: str,
    channel: str,
    detail: str | None,
) -> None:
    con.execute(
        "INSERT INTO deliveries (digest_date, subscriber_id, status, message_id, channel, detail, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest_date, subscriber_id) DO UPDATE "
        "SET status = excluded.status, channel = excluded.channel, detail = excluded.detail, "
        "updated_at = excluded.updated_at",
        [day, subscriber_id, status, message_id, channel, detail, utc_now()],
    )
