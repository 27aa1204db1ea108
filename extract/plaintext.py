"""Plain-text and Markdown files as documents: front matter read, hard-wrapped lines rejoined.

Text saved from mail, terminals and static-site generators is often wrapped at ~72 columns, one sentence broken
over several lines. The sentence splitter ends a sentence at every line break, so wrapped lines must be joined
back first, without merging what really is separate: headings, list items, quotes, table rows, short lines,
and the one-paragraph-per-line text that is not wrapped at all.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import yaml

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_BLOCK_START = re.compile(r"^\s*(?:[-*+•]\s|\d+[.)]\s|#|>|\||```|---|\*\*\*)")
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"'”’)\]*_]*$")
_ENDS_ABBREVIATION = re.compile(r"(?:\b(?:[A-Z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|St|No|Sen|Rep|Gov|Gen|Jr|Sr|vs)\.)$")
_WRAP_MIN = 40  # lines shorter than this end where they end (titles, datelines, signatures)
_WRAP_MAX = 100  # a wrapped document has no line longer than this, or almost none


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) of a text that may start with a YAML front-matter block between ``---`` lines."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return meta, text[match.end() :]


def front_matter_date(meta: dict[str, Any]) -> datetime | None:
    """The publication time named in front matter, as naive UTC."""
    for key in ("published_time", "date", "published"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, datetime):
            try:
                value = datetime.fromisoformat(str(value).strip())
            except ValueError:
                continue
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    return None


def is_hard_wrapped(lines: list[str]) -> bool:
    """Most long lines stop near one width: the text was wrapped, not written a paragraph per line."""
    long = [len(line.rstrip()) for line in lines if len(line.strip()) >= _WRAP_MIN]
    if len(long) < 3:
        return False
    return sum(n <= _WRAP_MAX for n in long) / len(long) >= 0.9


def unwrap(text: str) -> str:
    """Join hard-wrapped lines within paragraphs; paragraphs (blank lines) and block lines stay apart."""
    lines = text.splitlines()
    if not is_hard_wrapped(lines):
        return text
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        previous = out[-1] if out else ""
        joinable = (
            stripped
            and previous
            and not previous.lstrip().startswith("#")
            and not _BLOCK_START.match(stripped)
            and not line.endswith(("  ", "\\"))  # a markdown hard break
            and (not _ENDS_SENTENCE.search(previous) or _ENDS_ABBREVIATION.search(previous))
            and (len(previous) >= _WRAP_MIN or stripped[:1].islower())
        )
        if joinable:
            out[-1] = previous + " " + stripped
        else:
            out.append(stripped)
    return "\n".join(out)
