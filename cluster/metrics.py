"""Per-theme, per-day metrics: the day's counts and momentum against a trailing baseline (pure).

Momentum compares a theme's share of the day's themed claims with its share over the ``BASELINE_DAYS`` before
(pooled: its claims over all themed claims in the window). Only earlier days count: a day's figures never move
when later days arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BASELINE_DAYS = 14
SMOOTHING = 0.01


@dataclass(frozen=True)
class DayCounts:
    claims: int
    documents: int
    sources: int
    cn_claims: int
    us_claims: int


@dataclass(frozen=True)
class DayMetrics:
    theme_id: int
    counts: DayCounts
    share: float
    baseline: float | None
    momentum: float | None


def day_metrics(today: Mapping[int, DayCounts], history: Mapping[int, int], history_total: int) -> list[DayMetrics]:
    """Metrics for each theme with claims today.

    ``history`` holds each theme's claims over the baseline window and ``history_total`` all themed claims in
    it; a theme absent from ``history`` had none (a new theme has baseline 0 when the window had claims).
    """
    total = sum(c.claims for c in today.values())
    out = []
    for theme_id in sorted(today):
        counts = today[theme_id]
        share = counts.claims / total if total else 0.0
        baseline = history.get(theme_id, 0) / history_total if history_total else None
        momentum = (share + SMOOTHING) / (baseline + SMOOTHING) if baseline is not None else None
        out.append(DayMetrics(theme_id, counts, round(share, 6), _round(baseline), _round(momentum)))
    return out


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None


def bcubed(truth: list[str], predicted: list[int]) -> tuple[float, float, float]:
    """BCubed precision, recall and F1 of a clustering against labels; predicted -1 (unthemed) items are each a
    cluster of their own, so leaving claims out costs recall."""
    n = len(truth)
    if n == 0:
        return 0.0, 0.0, 0.0
    clusters = [p if p >= 0 else -(i + 2) for i, p in enumerate(predicted)]
    precision = recall = 0.0
    for i in range(n):
        same_cluster = [j for j in range(n) if clusters[j] == clusters[i]]
        same_label = [j for j in range(n) if truth[j] == truth[i]]
        both = sum(1 for j in same_cluster if truth[j] == truth[i])
        precision += both / len(same_cluster)
        recall += both / len(same_label)
    precision, recall = precision / n, recall / n
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0
