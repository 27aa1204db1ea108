"""Charts for researchers, built as matplotlib figures from plain rows (no global pyplot state, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any


def theme_timeline_figure(
    theme_id: int,
    label: str,
    timeline: Sequence[tuple[date, int, int, int, int]],
) -> Any:
    """Bars: the theme's claims per publication day; line (right axis): distinct sources that carried it so far.

    ``timeline``: (day, claims, documents, sources, sources so far) rows, as ``store.research.theme_dossier`` gives."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), layout="constrained")
    claims_axis = figure.add_subplot()
    days = [row[0] for row in timeline]
    claims_axis.bar(days, [row[1] for row in timeline], width=0.8, color="#4c78a8", label="claims that day")
    claims_axis.set_ylabel("claims per day")
    claims_axis.yaxis.get_major_locator().set_params(integer=True)
    sources_axis = claims_axis.twinx()
    sources_axis.plot(
        days,
        [row[4] for row in timeline],
        color="#e45756",
        marker="o",
        drawstyle="steps-post",
        label="sources so far",
    )
    sources_axis.set_ylabel("sources so far")
    sources_axis.set_ylim(bottom=0)
    sources_axis.yaxis.get_major_locator().set_params(integer=True)
    locator = AutoDateLocator()
    claims_axis.xaxis.set_major_locator(locator)
    claims_axis.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    claims_axis.set_title(f"Theme {theme_id}: {label}", loc="left")
    handles = claims_axis.get_legend_handles_labels()
    more = sources_axis.get_legend_handles_labels()
    claims_axis.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", frameon=False)
    return figure
