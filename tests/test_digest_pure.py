"""Selection and rendering as pure functions: determinism, diversity, escaping, safe links, headers."""

from __future__ import annotations

import random
from datetime import date

from core.models import Digest, SourceRef
from digest.mail import build_message
from digest.render import render, safe_link
from digest.select import Candidate, ThemeInfo, select_items


def _candidate(i: int, theme: int, source: str, new: bool = True, title: str = "Title") -> Candidate:
    ref = SourceRef(
        outlet=f"Outlet {source}",
        title=title,
        url=f"https://{source}.example/{i}",
        published=date(2026, 11, 20),
        kind="article",
    )
    return Candidate(
        f"c{i:03d}",
        theme,
        f"Claim {i} about China and the US on theme {theme}.",
        0.8,
        0.7,
        new,
        source,
        date(2026, 11, 10 + i % 7),
        ref,
    )


def _pool() -> tuple[list[Candidate], dict[int, ThemeInfo]]:
    candidates = [_candidate(i, i % 7, f"s{i % 4}", new=i % 5 != 0) for i in range(70)]
    themes = {t: ThemeInfo(t, f"theme {t} · keyword") for t in range(7)}
    return candidates, themes


def test_five_items_from_five_themes_with_sources() -> None:
    candidates, themes = _pool()
    items = select_items(candidates, themes)
    assert [i.rank for i in items] == [1, 2, 3, 4, 5]
    assert len({i.theme_id for i in items}) == 5
    for item in items:
        assert item.sources and len({s.outlet for s in item.sources}) == len(item.sources)
        assert item.source_count >= 1 and item.day_count >= 1


def test_selection_does_not_depend_on_input_order() -> None:
    candidates, themes = _pool()
    shuffled = candidates[:]
    random.Random(7).shuffle(shuffled)
    assert select_items(candidates, themes) == select_items(shuffled, themes)


def test_old_claims_and_featured_claims_are_not_repeated() -> None:
    candidates, themes = _pool()
    first = select_items(candidates, themes)
    again = select_items(candidates, themes, frozenset(i.claim_id for i in first))
    assert not {i.claim_id for i in first} & {i.claim_id for i in again}
    only_old = [c for c in candidates if not c.is_new]
    assert select_items(only_old, themes) == []


def test_recently_featured_theme_is_demoted() -> None:
    candidates, themes = _pool()
    top = select_items(candidates, themes)[0].theme_id
    themes[top] = ThemeInfo(top, themes[top].label, recently_featured=True)
    assert select_items(candidates, themes)[0].theme_id != top


def test_hostile_text_is_escaped_and_bad_links_dropped() -> None:
    hostile = '<img src=x onerror="alert(1)">Beijing\'s plan'
    ref = SourceRef("Evil <b>Outlet</b>", hostile, "javascript:alert(1)", date(2026, 11, 21), "article")
    ok = SourceRef("Good", "Fine", "https://good.example/a", date(2026, 11, 21), "transcript", "Ann Lee", 761.0)
    candidates = [
        Candidate("c1", 1, hostile, 0.9, 0.9, True, "evil", date(2026, 11, 21), ref),
        Candidate("c2", 1, "Second claim", 0.5, 0.5, True, "good", date(2026, 11, 21), ok),
    ]
    items = select_items(candidates, {1: ThemeInfo(1, "open weights · loss leader")})
    rendered = render(Digest(date(2026, 11, 21), tuple(items), "Brief"))
    assert "<img" not in rendered.html and "&lt;img" in rendered.html
    assert "javascript:" not in rendered.html and "javascript:" not in rendered.text
    assert "Ann Lee on Good, 12:41" in rendered.html
    assert "(good.example)" in rendered.html
    assert safe_link("file:///etc/passwd") is None and safe_link("https://a.example/x") == "https://a.example/x"


def test_email_has_both_parts_and_no_header_injection() -> None:
    ref = SourceRef("Outlet", "T", "https://a.example/", date(2026, 11, 21), "article")
    items = select_items(
        [Candidate("c1", 1, "A claim", 0.9, 0.9, True, "a", None, ref)],
        {1: ThemeInfo(1, "evil\r\nBcc: victim@example.com")},
    )
    rendered = render(Digest(date(2026, 11, 21), tuple(items), "Brief"))
    message = build_message(rendered, date(2026, 11, 21), "Brief <brief@example.org>", "r@example.com", "sub_1")
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    again = build_message(rendered, date(2026, 11, 21), "Brief <brief@example.org>", "r@example.com", "sub_1")
    assert message["Message-ID"] == again["Message-ID"]
