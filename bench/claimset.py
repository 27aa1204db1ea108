"""The labelled claim set: sentences labelled claim / not claim, with actors and claim type.

Two files in ``labels/claims/``:

- ``written*.jsonl``: documents written by the project in the style of real coverage, one per line:
  ``{"doc", "split", "kind", "paragraphs": [[{"s": sentence, "claim": bool, "actors": [...], "type": ...}]]}``.
  A document's text is its paragraphs, sentences joined by a space and paragraphs by a newline.
- ``corpus/*.jsonl``: labels for sentences of the real documents in ``../shared`` (the text stays there), one per
  line: ``{"file", "split", "key", "claim", "actors", "type"}``; ``key`` is :func:`sentence_key` of the
  sentence as the extractor's segmenter cuts the document text.

Splits are per document (``train`` or ``dev``), so no document lends sentences to both, with one exception:
the 3.5-hour Lex Fridman #459 transcript lends two ranges an hour apart, one to each split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from extract.plaintext import front_matter, unwrap
from extract.sentences import split_sentences
from extract.transcripts import detect_format, join_segments, parse_transcript

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "labels" / "claims"
SHARED = ROOT.parent / "shared"
CLAIM_TYPES = ("thesis", "fact", "forecast", "recommendation")


@dataclass(frozen=True)
class Label:
    claim: bool
    actors: tuple[str, ...] = ()
    claim_type: str | None = None


@dataclass
class LabelledDocument:
    doc: str
    split: str
    kind: str
    text: str
    labels: dict[str, Label] = field(default_factory=dict)  # sentence key -> label


def sentence_key(sentence: str) -> str:
    """A short, stable key for a sentence: whitespace-insensitive."""
    return hashlib.sha1(" ".join(sentence.split()).encode("utf-8")).hexdigest()[:12]


def _label(item: dict) -> Label:
    claim = bool(item["claim"])
    actors = tuple(sorted(item.get("actors") or ()))
    kind = item.get("type")
    if claim and (not actors or kind not in CLAIM_TYPES):
        raise ValueError(f"claim without actors or type: {item}")
    if any(a not in ("CN", "US") for a in actors):
        raise ValueError(f"unknown actor in {item}")
    return Label(claim, actors if claim else (), kind if claim else None)


def corpus_text(path: Path) -> tuple[str, str]:
    """(kind, text) of a shared corpus file as the ingest path reads it."""
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    if ".transcript" in path.name.lower() or path.suffix.lower() in (".vtt", ".srt", ".json", ".html"):
        fmt = detect_format(path.name.lower(), None, raw)
        text, _ = join_segments(parse_transcript(raw, fmt))
        return "transcript", text
    _, body = front_matter(raw)
    return "article", unwrap(body).strip()


def written_documents(path: Path = LABELS / "written.jsonl") -> Iterator[LabelledDocument]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        paragraphs = [" ".join(s["s"].strip() for s in para) for para in item["paragraphs"]]
        doc = LabelledDocument(item["doc"], item["split"], item.get("kind", "article"), "\n".join(paragraphs))
        for para in item["paragraphs"]:
            for s in para:
                doc.labels[sentence_key(s["s"])] = _label(s)
        yield doc


def corpus_documents(path: Path = LABELS / "corpus", shared: Path = SHARED) -> Iterator[LabelledDocument]:
    """Labelled corpus documents from one label file or every ``*.jsonl`` in a folder."""
    by_file: dict[tuple[str, str], LabelledDocument] = {}
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    lines = [line for file in files for line in file.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if not line.strip():
            continue
        item = json.loads(line)
        doc = by_file.get((item["file"], item["split"]))
        if doc is None:
            kind, text = corpus_text(shared / item["file"])
            doc = by_file[item["file"], item["split"]] = LabelledDocument(item["file"], item["split"], kind, text)
        doc.labels[item["key"]] = _label(item)
    yield from by_file.values()


def written_files() -> list[Path]:
    return sorted(LABELS.glob("written*.jsonl"))


def label_files() -> list[Path]:
    """Every file of the labelled set (what the shipped weights were trained from)."""
    return [*written_files(), *sorted((LABELS / "corpus").glob("*.jsonl"))]


def load(split: str | None = None, shared: Path = SHARED) -> list[LabelledDocument]:
    written = [doc for path in written_files() for doc in written_documents(path)]
    docs = [*written, *corpus_documents(shared=shared)]
    return [d for d in docs if split is None or d.split == split]


def dump(path: Path, first: int = 0, last: int | None = None) -> None:
    """Print a document's sentences with their keys, for labelling: ``index<TAB>key<TAB>sentence``."""
    _, text = corpus_text(path)
    for index, sentence in enumerate(split_sentences(text)):
        if index >= first and (last is None or index <= last):
            print(f"{index}\t{sentence_key(sentence.text)}\t{sentence.text}")


def check(path: Path) -> None:
    """Validate a label file: every key resolves to a sentence of its document; print counts."""
    if path.name.startswith("written"):
        docs = list(written_documents(path))
    else:
        docs = list(corpus_documents(path))
    for doc in docs:
        keys = {sentence_key(s.text) for s in split_sentences(doc.text)}
        missing = [k for k in doc.labels if k not in keys]
        claims = sum(label.claim for label in doc.labels.values())
        print(f"{doc.split:5} {doc.doc}: {len(doc.labels)} labelled, {claims} claims, {len(missing)} unresolved")


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    if not args:
        sys.exit(
            "usage: python -m bench.claimset FILE [FIRST [LAST]]   (FILE relative to ../shared)\n"
            "       python -m bench.claimset check LABELS.jsonl"
        )
    if args[0] == "check":
        check(Path(args[1]))
    else:
        dump(SHARED / args[0], int(args[1]) if len(args) > 1 else 0, int(args[2]) if len(args) > 2 else None)
