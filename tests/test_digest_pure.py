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


def _themed_pool(n_themes: int = 7) -> tuple[list[Candidate], dict[int, ThemeInfo]]:
    """Themes whose strength falls with their id (more new claims from more sources for low ids)."""
    import dataclasses

    candidates = []
    for theme in range(n_themes):
        for k in range(12 - theme):
            c = _candidate(theme * 100 + k, theme, f"s{k % (6 - theme % 5)}")
            actors = ("CN",) if theme % 2 else ("US", "CN") if theme == 0 else ("US",)
            candidates.append(dataclasses.replace(c, actors=actors))
    axes = [tuple(1.0 if j == t else 0.0 for j in range(n_themes)) for t in range(n_themes)]
    themes = {t: ThemeInfo(t, f"theme {t} · keyword", centroid=axes[t]) for t in range(n_themes)}
    return candidates, themes


def test_near_duplicate_themes_are_not_both_in_the_five() -> None:
    candidates, themes = _themed_pool()
    first = [i.theme_id for i in select_items(candidates, themes)]
    assert first[:2] == [0, 1]
    # theme 1 is made to say what theme 0 says (same direction): diversity keeps it out, a distinct theme comes in
    themes[1] = ThemeInfo(1, themes[1].label, centroid=themes[0].centroid)
    second = [i.theme_id for i in select_items(candidates, themes)]
    assert second[0] == 0 and 1 not in second and len(second) == 5


def test_yesterdays_lead_does_not_lead_again_unless_it_is_rising() -> None:
    candidates, themes = _themed_pool()
    themes[0] = ThemeInfo(0, themes[0].label, centroid=themes[0].centroid, led_last_brief=True, momentum=1.0)
    order = [i.theme_id for i in select_items(candidates, themes)]
    assert order[0] != 0 and 0 in order  # still in the brief, not at the top
    themes[0] = ThemeInfo(0, themes[0].label, centroid=themes[0].centroid, led_last_brief=True, momentum=2.5)
    items = select_items(candidates, themes)
    assert items[0].theme_id == 0 and "rising: 2.5x" in items[0].why


def test_momentum_lifts_a_theme() -> None:
    candidates, themes = _themed_pool()
    base = [i.theme_id for i in select_items(candidates, themes)]
    themes[6] = ThemeInfo(6, themes[6].label, centroid=themes[6].centroid, momentum=6.0)
    lifted = [i.theme_id for i in select_items(candidates, themes)]
    assert 6 not in base and 6 in lifted  # the weakest theme, rising sixfold, makes the five


def test_a_headline_is_not_the_insight_when_a_sentence_says_it() -> None:
    import dataclasses

    candidates, themes = _themed_pool(5)
    title = "Washington Rethinks Its AI Rules"
    headline_claim = dataclasses.replace(
        candidates[0],
        claim_id="c000a",
        text=title,
        score=0.99,
        similarity=0.99,
        ref=dataclasses.replace(candidates[0].ref, title=title),
    )
    items = select_items([headline_claim, *candidates], themes)
    lead = next(i for i in items if i.theme_id == 0)
    assert lead.text != title and lead.text.endswith(".")


def test_preferences_focus_follow_and_mute() -> None:
    from digest.select import Preferences

    candidates, themes = _themed_pool()
    general = [i.theme_id for i in select_items(candidates, themes)]
    china = select_items(candidates, themes, preferences=Preferences(focus="CN"))
    assert {i.theme_id for i in china} <= {0, 1, 3, 5}  # only themes whose claims name China
    muted = [i.theme_id for i in select_items(candidates, themes, preferences=Preferences(mute=frozenset({0})))]
    assert 0 not in muted and len(muted) == 5
    followed = select_items(candidates, themes, preferences=Preferences(follow=frozenset({6})))
    assert 6 not in general and 6 in [i.theme_id for i in followed]
    assert "a theme you follow" in next(i.why for i in followed if i.theme_id == 6)
    nothing = select_items(candidates, themes, preferences=Preferences(mute=frozenset(range(7))))
    assert nothing == []


def test_explain_shows_every_theme_with_its_score_and_place() -> None:
    from digest.select import explain

    candidates, themes = _themed_pool()
    themes[1] = ThemeInfo(1, themes[1].label, centroid=themes[0].centroid)  # redundant with theme 0
    rows = explain(candidates, themes)
    items = select_items(candidates, themes)
    assert {r.theme_id: r.chosen_rank for r in rows if r.chosen_rank} == {i.theme_id: i.rank for i in items}
    assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)
    second_best = rows[1]
    assert second_best.theme_id == 1 and second_best.chosen_rank is None  # scored high, left out as redundant
