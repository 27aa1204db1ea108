"""Sentence segmentation with character offsets into the original text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sen",
    "rep",
    "gov",
    "gen",
    "st",
    "jr",
    "sr",
    "inc",
    "corp",
    "ltd",
    "co",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "no",
    "fig",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "approx",
    "est",
}
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"(?<![A-Za-z0-9'’])([A-Za-z.]+)[.!?…]+[\"'”’)\]]*\s+$")
_INITIALISM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?$")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def _is_abbreviation(chunk: str) -> bool:
    match = _LAST_WORD.search(chunk)
    if not match:
        return False
    word = match.group(1)
    if _INITIALISM.match(word + "."):
        return True  # U.S., U.K., single initials
    return word.lower().rstrip(".") in _ABBREVIATIONS


def split_sentences(text: str) -> list[Sentence]:
    """Split text into sentences; paragraph breaks (newlines) always end a sentence."""
    sentences: list[Sentence] = []
    for para in re.finditer(r"[^\n]+", text):
        base = para.start()
        chunk = para.group(0)
        start = 0
        for boundary in _BOUNDARY.finditer(chunk):
            # Only the last word matters: look at a short tail, so long runs of "U.S. U.S. …" stay linear.
            if _is_abbreviation(chunk[max(start, boundary.end() - 40) : boundary.end()]):
                continue
            _append(sentences, text, base + start, base + boundary.end())
            start = boundary.end()
        _append(sentences, text, base + start, base + len(chunk))
    return sentences


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Sentence(start, end, text[start:end]))
