"""Docs that cannot rot: the README documents every table, column and command."""

from __future__ import annotations

import re
from pathlib import Path

from flows.cli import cli
from store.db import open_db

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README lacks a '{title}' section"
    return match.group(1)


def test_every_table_and_column_is_documented(tmp_path: Path) -> None:
    section = _section("Querying the data")
    con = open_db(tmp_path / "docs.duckdb")
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    con.close()
    missing = [f"{t}.{c}" for t, c in rows if f"`{c}`" not in _table_paragraph(section, t)]
    assert not missing, f"undocumented columns: {missing}"


def _table_paragraph(section: str, table: str) -> str:
    match = re.search(rf"\*\*`{table}`\*\*(.*?)(?=\n\*\*`|\Z)", section, re.S)
    assert match, f"table {table} is not documented"
    return match.group(1)


def test_every_command_is_documented() -> None:
    section = _section("Commands")
    for name, command in cli.commands.items():
        assert f"`undercurrent {name}" in section, name
        for sub in getattr(command, "commands", {}):
            assert sub in section, f"{name} {sub}"


def test_quickstart_has_two_commands_and_ci_runs_the_test_one() -> None:
    quickstart = _section("Quickstart")
    commands = re.findall(r"^(python3 bootstrap\.py \w+)", quickstart, re.M)
    assert commands == ["python3 bootstrap.py demo", "python3 bootstrap.py test"]
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "python3 bootstrap.py test" in ci
