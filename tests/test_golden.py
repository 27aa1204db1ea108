"""The rendered brief against reviewed golden files.

``tests/golden/brief.json`` is a brief of the bundled sample (the items its selection chose); the HTML, Markdown
and text renderings of it are kept beside it, reviewed. A change to templates or rendering shows up here as a
diff; after reviewing the new output, refresh them explicitly with

    UNDERCURRENT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import difflib
import json
import os
from datetime import date
from pathlib import Path

import pytest

from core.models import Digest, DigestItem, SourceRef
from digest.render import render

GOLDEN = Path(__file__).resolve().parent / "golden"


def _digest() -> Digest:
    data = json.loads((GOLDEN / "brief.json").read_text(encoding="utf-8"))
    items = []
    for item in data["items"]:
        sources = tuple(
            SourceRef(**{**ref, "published": date.fromisoformat(ref["published"]) if ref["published"] else None})
            for ref in item["sources"]
        )
        items.append(DigestItem(**{**item, "sources": sources, "related": tuple(item["related"])}))
    return Digest(date.fromisoformat(data["digest_date"]), tuple(items), data["title"])


@pytest.mark.parametrize("part", ["html", "markdown", "text"])
def test_rendering_matches_the_reviewed_golden_file(part: str) -> None:
    rendered = getattr(render(_digest()), part)
    path = GOLDEN / f"brief.{ {'html': 'html', 'markdown': 'md', 'text': 'txt'}[part] }"
    if os.environ.get("UNDERCURRENT_UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if rendered != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), rendered.splitlines(True), str(path), "now"))
        pytest.fail(f"the {part} rendering changed; review, then refresh (see the module docstring):\n{diff[:3000]}")


def test_golden_subject_names_the_lead_insight() -> None:
    digest = _digest()
    assert render(digest).subject == f"{digest.title}: {digest.items[0].headline}"
