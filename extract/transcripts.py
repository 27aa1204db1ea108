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
import math
import re
from html import unescape
from html.parser import HTMLParser

from core.errors import PermanentError
from core.models import Segment, SegmentSpan

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?|(\d+(?:\.\d+)?)")
_ARROW = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)")
_ARROW_ANYWHERE = re.compile(r"^\s*[\d:.,]+\s*-->\s*[\d:.,]+", re.MULTILINE)
_VOICE = re.compile(r"<v(?:\.[^\s>]{1,40})?\s+([^>\n]{1,100})>")
_TAG = re.compile(r"<[^>]+>")
_INLINE_SPEAKER = re.compile(r"^([A-Z][A-Za-z.'\- ]{1,40}|[A-Z][A-Z.'\- ]{1,40}):\s+(.*)$", re.DOTALL)
_MARKDOWN_TURN = re.compile(r"^\s*\*\*([^*\n]{1,60}?):?\*\*:?\s*(.*)$")
_NOT_SPEAKERS = {"transcript", "note", "notes", "summary", "source", "quote", "update", "editor's note"}
_BRACKETED = re.compile(r"\[[^\]\n]{0,40}\]|\((?:laughs?|laughter|music|applause|crosstalk|inaudible)\)", re.I)
_NAME_LINE = re.compile(r"^[A-Z][\w.'\-]*(?: [A-Z][\w.'\-]*){0,3}$")
_TIMED = ("vtt", "srt", "json")


MAX_SECONDS = 7 * 24 * 3600.0  # no episode is longer than a week: anything beyond is a broken timestamp


def _sane(value: float) -> float | None:
    return value if math.isfinite(value) and 0 <= value <= MAX_SECONDS else None


def _seconds(stamp: str) -> float:
    match = _TIME.fullmatch(stamp.strip())
    if not match:
        raise ValueError(f"bad timestamp {stamp!r}")
    if match.group(5) is not None:
        value = float(match.group(5))
    else:
        fraction = match.group(4) or "0"
        value = int(match.group(1) or 0) * 3600 + int(match.group(2)) * 60 + int(match.group(3))
        value += int(fraction) / 10 ** len(fraction)
    sane = _sane(value)
    if sane is None:
        raise ValueError(f"timestamp out of range {stamp!r}")
    return sane


def _cues(text: str) -> list[tuple[float, float, list[str]]]:
    """(start, end, text lines) per cue. A cue starts at its timing line and runs to the next one (or to a
    blank line followed by a cue number), so files without blank lines between cues still split right."""
    cues: list[tuple[float, float, list[str]]] = []
    current: list[str] | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        match = _ARROW.match(line)
        if match:
            try:
                start, end = _seconds(match.group(1)), _seconds(match.group(2))
            except ValueError:
                current = None
                continue
            if current is not None and current and current[-1].strip().isdigit():
                current.pop()  # the next cue's number, in files without blank lines
            current = []
            cues.append((start, end, current))
        elif current is not None:
            if not line.strip():
                current = None
            else:
                current.append(line)
    return cues


def _clean(line: str) -> str:
    return " ".join(unescape(_TAG.sub("", line)).split())


def _inline_speaker(text: str) -> tuple[str | None, str]:
    """``Travis: words`` or ``ADAM CURRY: words``: (speaker, words); names are short and not sentence openers."""
    match = _INLINE_SPEAKER.match(text)
    if not match:
        return None, text
    name = match.group(1).strip()
    words = name.split()
    if len(words) > 4 or name.lower() in _NOT_SPEAKERS or not all(w[:1].isupper() for w in words):
        return None, text
    return (name.title() if name.isupper() else name), match.group(2).strip()


def _from_cues(text: str, inline_speakers: bool) -> list[Segment]:
    segments: list[Segment] = []
    speaker: str | None = None
    previous_lines: set[str] = set()
    previous_end = float("-inf")
    for start, end, body in _cues(text):
        voice = _VOICE.search(" ".join(body))
        lines = [_clean(_BRACKETED.sub(" ", line)) for line in body]  # [music], (laughs): not speech
        lines = [line for line in lines if line]
        if not lines:
            continue  # notes, and the near-empty cues between rolling auto-captions
        new = [line for line in lines if line not in previous_lines]  # rolling captions repeat the last line
        if not new and start >= previous_end:
            new = lines  # the same words said again later ("No." … "No."), not a rolling repeat
        previous_lines, previous_end = set(lines), end
        if not new:
            continue
        clean = " ".join(new)
        found = voice.group(1).strip() if voice else None
        if found is None and inline_speakers:
            found, clean = _inline_speaker(clean)
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
            start = _sane(float(item["startTime"])) if item.get("startTime") is not None else None
            end = _sane(float(item["endTime"])) if item.get("endTime") is not None else None
        except (TypeError, ValueError):
            start = end = None
        body = " ".join(str(item["body"]).split())
        speaker = str(item["speaker"]).strip() if item.get("speaker") else None
        last = segments[-1] if segments else None
        if last is not None and (last.start, last.end, last.speaker) == (start, end, speaker):
            segments[-1] = Segment(start, end, speaker, f"{last.text} {body}")  # lines of one cue
        else:
            segments.append(Segment(start, end, speaker, body))
    return segments


class _Blocks(HTMLParser):
    """Collects (tag, text) for every <cite>, <time> and <p>, in one linear pass (no regex backtracking)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("cite", "time", "p"):
            self._close()
            self._open, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._close()

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def _close(self) -> None:
        if self._open:
            self.blocks.append((self._open, " ".join("".join(self._text).split())))
        self._open, self._text = None, []

    def close(self) -> None:
        super().close()
        self._close()


def _from_html(text: str) -> list[Segment]:
    """``<cite>Speaker:</cite><time>m:ss</time><p>…</p>`` blocks. A speaker holds until the next cite; a block
    before any cite has none; ``<p>Name: …</p>`` names its speaker inline."""
    reader = _Blocks()
    reader.feed(text)
    reader.close()
    segments: list[Segment] = []
    speaker: str | None = None
    start: float | None = None
    for tag, value in reader.blocks:
        if tag == "cite":
            speaker = value.rstrip(":").strip() or None
        elif tag == "time":
            try:
                start = _seconds(value)
            except ValueError:
                start = None
        elif value:
            found, words = _inline_speaker(value)
            segments.append(Segment(start, None, found or speaker, words))
            start = None
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
        match = _MARKDOWN_TURN.match(line)
        if match and match.group(1).strip().lower() not in _NOT_SPEAKERS and match.group(2).strip():
            segments.append(Segment(None, None, match.group(1).strip(), match.group(2).strip()))
            continue
        speaker, words = _inline_speaker(line)
        segments.append(Segment(None, None, speaker, words))
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
    if _ARROW_ANYWHERE.search(text[:2000]):
        return "srt"  # timed cues, whatever the label says
    if "text/plain" in lowered or "markdown" in lowered or name.endswith((".txt", ".md")):
        return "text"
    raise PermanentError(f"unsupported transcript format ({mime_type or name or 'unknown'})")


def parse_transcript(text: str, fmt: str) -> list[Segment]:
    """Segments of a transcript; consecutive identical texts are said once."""
    if not text.strip():
        raise PermanentError("transcript is empty")
    parsers = {
        "vtt": lambda t: _from_cues(t, inline_speakers=False),  # WebVTT names speakers with <v>
        "srt": lambda t: _from_cues(t, inline_speakers=True),
        "json": _from_json,
        "html": _from_html,
        "text": _from_text,
    }
    if fmt not in parsers:
        raise PermanentError(f"transcript format {fmt!r} is not supported")
    deduped: list[Segment] = []
    for segment in parsers[fmt](text):
        last = deduped[-1] if deduped else None
        if last and (last.text, last.speaker) == (segment.text, segment.speaker) and _overlaps(last, segment):
            continue  # the same words again in an overlapping cue: a repeat, not speech
        deduped.append(segment)
    if not deduped:
        raise PermanentError("transcript holds no speech")
    return deduped


def _overlaps(a: Segment, b: Segment) -> bool:
    if a.start is None or b.start is None:
        return True
    return b.start <= (a.end if a.end is not None else a.start)


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
