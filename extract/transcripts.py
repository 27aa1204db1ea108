"""Podcast transcripts (WebVTT, SRT, Podcasting 2.0 JSON, plain text) into timed segments."""

from __future__ import annotations

import json
import re

from core.errors import PermanentError
from core.models import Segment, SegmentSpan

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?|(\d+(?:\.\d+)?)")
_ARROW = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)")
_VOICE = re.compile(r"<v(?:\.[^\s>]+)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]+>")
_INLINE_SPEAKER = re.compile(r"^([A-Z][A-Za-z.'\- ]{1,40}|[A-Z][A-Z.'\- ]{1,40}):\s+(.*)$", re.DOTALL)


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
                body = [item for item in lines[index + 1 :] if item.strip()]
                if body:
                    cues.append((start, end, body))
                break
    return cues


def _speaker_and_text(body: list[str], inline: bool) -> tuple[str | None, str]:
    joined = " ".join(line.strip() for line in body)
    voice = _VOICE.search(joined)
    speaker = voice.group(1).strip() if voice else None
    clean = " ".join(_TAG.sub("", joined).split())
    if speaker is None and inline:
        match = _INLINE_SPEAKER.match(clean)
        if match and len(match.group(1).split()) <= 4:
            speaker, clean = match.group(1).strip().title(), match.group(2).strip()
    return speaker, clean


def _from_cues(text: str) -> list[Segment]:
    segments: list[Segment] = []
    speaker: str | None = None
    for start, end, body in _cues(text):
        found, clean = _speaker_and_text(body, inline=True)
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
    segments = []
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("body", "")).strip():
            continue
        try:
            start = float(item.get("startTime", 0))
            end = float(item["endTime"]) if item.get("endTime") is not None else None
        except (TypeError, ValueError):
            continue
        body = " ".join(str(item["body"]).split())
        segments.append(Segment(start, end, (item.get("speaker") or None), body))
    return segments


def detect_format(name: str, mime_type: str | None, text: str) -> str:
    lowered = (mime_type or "").lower()
    head = text.lstrip("\ufeff \n\r\t")[:200]
    if "vtt" in lowered or name.endswith(".vtt") or head.startswith("WEBVTT"):
        return "vtt"
    if "srt" in lowered or "subrip" in lowered or name.endswith(".srt"):
        return "srt"
    if "json" in lowered or name.endswith(".json") or head.startswith("{"):
        return "json"
    if "html" in lowered or name.endswith((".html", ".htm")):
        return "html"
    if "text/plain" in lowered or name.endswith((".txt", ".md")):
        return "text"
    raise PermanentError(f"unsupported transcript format ({mime_type or name})")


def parse_transcript(text: str, fmt: str) -> list[Segment]:
    """Timed segments of a transcript; consecutive identical cues are merged."""
    if fmt in ("vtt", "srt"):
        segments = _from_cues(text)
    elif fmt == "json":
        segments = _from_json(text)
    else:
        raise PermanentError(f"transcript format {fmt!r} is not supported yet")
    deduped: list[Segment] = []
    for segment in segments:
        if deduped and deduped[-1].text == segment.text:
            continue
        deduped.append(segment)
    if not deduped:
        raise PermanentError("transcript holds no speech")
    return deduped


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
