"""Rendering a digest to HTML email, plain text and Markdown (Jinja2, autoescaped HTML)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.models import Digest, SourceRef


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    markdown: str
    text: str


def safe_link(url: str | None) -> str | None:
    """Only http(s) links survive; anything else (javascript:, file:, data:) is dropped."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def domain(url: str | None) -> str:
    return urlsplit(url).netloc.lower().removeprefix("www.") if url else ""


def timestamp(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def ref_link(ref: SourceRef) -> str | None:
    return safe_link(ref.url)


def ref_label(ref: SourceRef) -> str:
    if ref.kind == "transcript":
        who = f"{ref.speaker} on {ref.outlet}" if ref.speaker else ref.outlet
        when = timestamp(ref.start_seconds)
        return f"{who}, {when}" if when else who
    return ref.outlet


def single_line(text: str) -> str:
    """Control characters (CR, LF, TAB …) become spaces and runs of space collapse: safe for headers."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("digest", "templates"),
        autoescape=select_autoescape(["html"]) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(link=ref_link, label=ref_label, domain=domain)
    return env


def render(digest: Digest) -> Rendered:
    subject = single_line(f"{digest.title}: {digest.items[0].headline}" if digest.items else digest.title)[:200]
    day = digest.digest_date
    context = {"digest": digest, "date": f"{day:%A} {day.day} {day:%B %Y}"}
    html = _environment(True).get_template("digest.html").render(**context)
    plain = _environment(False)
    return Rendered(
        subject=subject,
        html=html,
        markdown=plain.get_template("digest.md.j2").render(**context),
        text=plain.get_template("digest.txt.j2").render(**context),
    )
