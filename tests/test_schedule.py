"""Feed scheduling as pure functions: backoff, Retry-After, 410, quiet feeds, validators."""

from __future__ import annotations

from datetime import datetime, timedelta

from extract.schedule import FeedState, after_failure, after_success, backoff, is_due, is_quiet

NOW = datetime(2026, 11, 21, 8, 0)


def test_backoff_doubles_from_30_minutes_and_caps_at_a_day() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (30, 60, 120, 240)]
    assert backoff(40) == timedelta(hours=24)


def test_failures_count_up_and_success_resets() -> None:
    state = FeedState()
    for _ in range(3):
        state = after_failure(state, NOW, "HTTP 503", 503)
    assert state.consecutive_failures == 3 and state.next_check_at == NOW + timedelta(hours=2)
    assert not is_due(state, NOW + timedelta(hours=1)) and is_due(state, NOW + timedelta(hours=2))
    ok = after_success(state, NOW, 200, '"e1"', None)
    assert ok.consecutive_failures == 0 and ok.next_check_at is None and ok.etag == '"e1"'
    assert ok.last_error == "HTTP 503"  # the last error stays visible for the operator


def test_retry_after_wins_when_longer_and_is_capped() -> None:
    assert after_failure(FeedState(), NOW, "429", 429, retry_after=7200).next_check_at == NOW + timedelta(hours=2)
    assert after_failure(FeedState(), NOW, "429", 429, retry_after=5).next_check_at == NOW + timedelta(minutes=30)
    assert after_failure(FeedState(), NOW, "429", 429, retry_after=10**9).next_check_at == NOW + timedelta(hours=24)


def test_gone_stops_for_good() -> None:
    state = after_failure(FeedState(), NOW, "410", 410, gone=True)
    assert state.stopped and not is_due(state, NOW + timedelta(days=365))


def test_304_keeps_validators_and_200_replaces_them() -> None:
    state = FeedState(etag='"old"', last_modified="Fri, 20 Nov 2026 10:00:00 GMT")
    assert after_success(state, NOW, 304, None, None).etag == '"old"'
    assert after_success(state, NOW, 200, None, None).etag is None


def test_quiet_feed_detection() -> None:
    daily = [NOW - timedelta(days=d) for d in range(5, 25)]
    assert is_quiet(daily, NOW)  # 20 items in the month, none in the last 5 days
    assert not is_quiet([NOW - timedelta(days=1), *daily], NOW)
    assert not is_quiet([NOW - timedelta(days=10)], NOW)  # rarely active feeds are never "quiet"
