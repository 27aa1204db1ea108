"""Progress of long work, for the CLI: stages report (stage, done, total); the CLI shows rich progress bars on
a terminal, and under Prefect (or without a terminal) nothing is shown and the logs stay quiet."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

Reporter = Callable[[str, int, int], None]  # stage, done so far, total
_reporter: Reporter | None = None


def report(stage: str, done: int, total: int) -> None:
    if _reporter is not None:
        _reporter(stage, done, total)


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


@contextmanager
def bars() -> Iterator[None]:
    """rich progress bars on stderr while the block runs (they vanish when it ends)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    labels = {"ingest": "fetching sources", "claims": "finding claims", "embedding": "embedding claims"}
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def show(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        with reporting(show):
            yield


def on_terminal() -> Any:
    """Progress bars when stderr is a terminal, else nothing."""
    return bars() if sys.stderr.isatty() else nullcontext()
