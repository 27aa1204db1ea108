"""Printing query results as tables on the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(*columns, show_lines=False, header_style="bold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console = Console(soft_wrap=False)
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(soft_wrap=False, width=240)
    console.print(table)
