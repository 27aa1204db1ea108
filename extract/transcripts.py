"""Podcast transcripts into segments (start, end, speaker, text): WebVTT, SRT, Podcasting 2.0 JSON, HTML, text.

What real files do, and what is done about it:
- WebVTT with bare-second timestamps (``0.860 --> 7.380``), voice spans ``<v Name>`` only when the speaker
  changes, entities (``&amp;``), notes and styles;
- SRT with inline speaker names (``Travis: …``, ``ADAM CURRY: …``) only when the speaker changes;
- auto-captions whose cues roll (each repeats the previous line) alternating with near-empty cues: a line
  already said in the previous cue is not said again;
- Podcasting 2.0 JSON whose word- or phrase-level segments share one cue's time span: merged back into cues;
- HTML ``<cite>``/``<time>``/``<p>`` blocks, the first often without ``<cite>``;
- plain-text or Markdown transcripts with ``**Name:**`` or ``Name:`` turns and no times (start is None);
- empty files, PDFs and anything else: a PermanentError naming the reason, never a crash.
"""

from __future__ import annotations

import json
import re
from html import unescape

from core.errors import PermanentError
from core.models import Segment, SegmentSpan

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?|(\d+(?:\.\d+)?)")
_ARROW = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)")
_VOICE = re.compile(r"<v(?:\.[^\s>]+)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]+>")
_INLINE_SPEAKER = re.compile(r"^([A-Z][A-Za-z.'\- ]{1,40}|[A-Z][A-Z.'\- ]{1,40}):\s+(.*)$", re.DOTALL)
_MARKDOWN_TURN = re.compile(r"^\s*\*\*([^*\n]{1,60}?):?\*\*:?\s*(.*)$")
_NOT_SPEAKERS = {"transcript", "note", "notes", "summary", "source", "quote", "update", "editor's note"}
_NAME_LINE = re.compile(r"^[A-Z][\w.'\-]*(?: [A-Z][\w.'\-]*){0,3}$")
_HTML_BLOCK = re.compile(r"<(cite|time|p)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_TIMED = ("vtt", "srt", "json")


def _seconds(stamp: str) -> float:
    match = _TIME.fullmatch(stamp.strip())
    if not match:
        raise ValueError(f"bad timestamp {stamp!r}")
    if match.group(5) is not None:
        return float(match.group(5))
    hours = int(match.group(1) or 0)
    fraction = match.group(4) or "0"
    return hours * 3600 + int(match.group(2)) * 60 + int(match.group(3)) + int(fraction) / 10 ** len(fraction)


def _cues(text: str) -> list[tuple[float, float, list[str]]]:
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.strip("\n").split("\n")
        for index, line in enumerate(lines):
            match = _ARROW.match(line)
            if match:
                try:
                    start, end = _seconds(match.group(1)), _seconds(match.group(2))
                except ValueError:
                    break
                cues.append((start, end, lines[index + 1 :]))
                break
    return cues


def _clean(line: str) -> str:
    return " ".join(unescape(_TAG.sub("", line)).split())


def _from_cues(text: str) -> list[Segment]:
    segments: list[Segment] = []
    speaker: str | None = None
    previous_lines: set[str] = set()
    for start, end, body in _cues(text):
        voice = _VOICE.search(" ".join(body))
        lines = [_clean(line) for line in body]
        lines = [line for line in lines if line]
        if not lines:
            continue  # the near-empty cues between rolling auto-captions
        new = [line for line in lines if line not in previous_lines]  # rolling captions repeat the last line
        previous_lines = set(lines)
        if not new:
            continue
        clean = " ".join(new)
        found = voice.group(1).strip() if voice else None
        if found is None:
            match = _INLINE_SPEAKER.match(clean)
            if match and len(match.group(1).split()) <= 4:
                found, clean = match.group(1).strip().title(), match.group(2).strip()
        if clean.startswith("[") and clean.endswith("]"):
            continue  # stage directions and notes such as [music]
        speaker = found or speaker
        if clean:
            segments.append(Segment(start, end, speaker, clean))
    return segments


def _from_json(text: str) -> list[Segment]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"transcript JSON is not valid: {exc.msg} at line {exc.lineno}") from None
    raw = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise PermanentError("transcript JSON has no 'segments' list")
    segments: list[Segment] = []
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("body", "")).strip():
            continue
        try:
            start = float(item.get("startTime", 0))
            end = float(item["endTime"]) if item.get("endTime") is not None else None
        except (TypeError, ValueError):
            continue
        body = " ".join(str(item["body"]).split())
        speaker = str(item["speaker"]).strip() if item.get("speaker") else None
        last = segments[-1] if segments else None
        if last is not None and (last.start, last.end, last.speaker) == (start, end, speaker):
            segments[-1] = Segment(start, end, speaker, f"{last.text} {body}")  # lines of one cue
        else:
            segments.append(Segment(start, end, speaker, body))
    return segments


def _from_html(text: str) -> list[Segment]:
    """``<cite>Speaker:</cite><time>m:ss</time><p>…</p>`` blocks; a block without a cite has no speaker."""
    segments: list[Segment] = []
    speaker: str | None = None
    start: float | None = None
    for tag, inner in _HTML_BLOCK.findall(text):
        value = _clean(inner)
        tag = tag.lower()
        if tag == "cite":
            speaker = value.rstrip(":").strip() or None
        elif tag == "time":
            try:
                start = _seconds(value)
            except ValueError:
                start = None
        elif value:
            segments.append(Segment(start, None, speaker, value))
            speaker, start = None, None
    return [
        Segment(s.start, segments[i + 1].start if i + 1 < len(segments) else None, s.speaker, s.text)
        for i, s in enumerate(segments)
    ]


def _from_text(text: str) -> list[Segment]:
    """Untimed turns: ``**Name:** words``, ``Name: words``, else paragraphs without a speaker."""
    segments: list[Segment] = []
    body = re.sub(r"\A---\n.*?\n---\n", "", text.replace("\r\n", "\n"), flags=re.DOTALL)  # front matter
    for paragraph in re.split(r"\n\s*\n", body):
        first, _, rest = paragraph.strip().partition("\n")
        if rest.strip() and _NAME_LINE.match(first.strip()):  # "Brad Gerstner" on its own line, then the words
            segments.append(Segment(None, None, first.strip(), " ".join(rest.split())))
            continue
        line = " ".join(paragraph.split())
        if not line:
            continue
        match = _MARKDOWN_TURN.match(line) or _INLINE_SPEAKER.match(line)
        if match and match.group(1).strip().lower() in _NOT_SPEAKERS:
            match = None
        if match and len(match.group(1).split()) <= 4 and match.group(2).strip():
            segments.append(Segment(None, None, match.group(1).strip(), match.group(2).strip()))
        else:
            segments.append(Segment(None, None, None, line))
    return segments


def detect_format(name: str, mime_type: str | None, text: str) -> str:
    """vtt, srt, json, html or text, from the MIME type, the file name or the content itself."""
    lowered = (mime_type or "").lower()
    head = text.lstrip("\ufeff \n\r\t")[:300]
    if head.startswith("%PDF") or "pdf" in lowered or name.endswith(".pdf"):
        raise PermanentError("PDF transcripts are not supported")
    if "vtt" in lowered or name.endswith(".vtt") or head.startswith("WEBVTT"):
        return "vtt"
    if "srt" in lowered or "subrip" in lowered or name.endswith(".srt"):
        return "srt"
    if "json" in lowered or name.endswith(".json") or head.startswith("{"):
        return "json"
    if "html" in lowered or name.endswith((".html", ".htm")) or re.match(r"(?is)<(!doctype|html|cite|time|p)\b", head):
        return "html"
    if "text/plain" in lowered or "markdown" in lowered or name.endswith((".txt", ".md")):
        return "text"
    if _ARROW.search(head):
        return "srt"
    raise PermanentError(f"unsupported transcript format ({mime_type or name or 'unknown'})")


def parse_transcript(text: str, fmt: str) -> list[Segment]:
    """Segments of a transcript; consecutive identical texts are said once."""
    if not text.strip():
        raise PermanentError("transcript is empty")
    parsers = {"vtt": _from_cues, "srt": _from_cues, "json": _from_json, "html": _from_html, "text": _from_text}
    if fmt not in parsers:
        raise PermanentError(f"transcript format {fmt!r} is not supported")
    deduped: list[Segment] = []
    for segment in parsers[fmt](text):
        if deduped and deduped[-1].text == segment.text:
            continue
        deduped.append(segment)
    if not deduped:
        raise PermanentError("transcript holds no speech")
    return deduped


def is_timed(fmt: str) -> bool:
    return fmt in _TIMED


def join_segments(segments: list[Segment]) -> tuple[str, tuple[SegmentSpan, ...]]:
    """Document text of the speech (a new paragraph when the speaker changes) and where each segment sits."""
    parts: list[str] = []
    spans: list[SegmentSpan] = []
    length = 0
    previous_speaker: str | None = None
    for index, segment in enumerate(segments):
        separator = "" if index == 0 else ("\n" if segment.speaker != previous_speaker else " ")
        parts.append(separator)
        length += len(separator)
        spans.append(SegmentSpan(segment.start, segment.end, segment.speaker, length, length + len(segment.text)))
        parts.append(segment.text)
        length += len(segment.text)
        previous_speaker = segment.speaker
    return "".join(parts), tuple(spans)
