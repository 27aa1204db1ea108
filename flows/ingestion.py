"""Ingestion glue: sources, feeds, pages, transcripts and local files into stored documents."""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from core.errors import PermanentError, TransientError, UndercurrentError, UserError
from core.ids import stable_id
from core.models import Document, Source
from extract.articles import ArticleText, extract_article
from extract.documents import article_document, document_key, page_document, transcript_document
from extract.feeds import FeedEntry, parse_feed
from extract.fetch import FEED_CAP, PAGE_CAP, TRANSCRIPT_CAP, Fetcher
from extract.plaintext import front_matter, front_matter_date, unwrap
from extract.sources import source_id_for
from extract.transcripts import detect_format, parse_transcript
from store import documents as docstore

log = logging.getLogger("undercurrent.ingest")

LOCAL_SOURCE = Source(stable_id("src", "local-files"), "Local files", "local", "")
FEED_SUFFIXES = (".xml", ".rss", ".atom")
PAGE_SUFFIXES = (".html", ".htm")
TEXT_SUFFIXES = (".txt", ".md")
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".json")
SIDECAR = ".meta.json"
WORKERS = 8  # parallel page fetches per feed; the fetcher's HostLimiter keeps each host at 2


@dataclass
class IngestReport:
    new_documents: int = 0
    seen_documents: int = 0
    non_english: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        self.new_documents += other.new_documents
        self.seen_documents += other.seen_documents
        self.non_english += other.non_english
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)


def store(con: duckdb.DuckDBPyConnection, doc: Document, report: IngestReport) -> None:
    if docstore.insert_document(con, doc):
        report.new_documents += 1
        report.non_english += doc.language is not None and doc.language != "en"
    else:
        report.seen_documents += 1


def record_failure(
    con: duckdb.DuckDBPyConnection, report: IngestReport, url: str, source_id: str | None, exc: Exception
) -> None:
    detail = describe(exc)
    reason = f"{url}: {detail}"
    log.warning("skipped %s", reason)
    report.errors.append(reason)
    docstore.record_ingest_error(con, url, source_id, detail)


def entry_document(source: Source, entry: FeedEntry, fetcher: Fetcher) -> Document:
    """Fetch what an entry points to (transcript or page) and build its document. Runs in worker threads."""
    if source.kind == "podcast" and entry.transcripts:
        return _episode_document(source, entry, fetcher)
    page, problem, transient = None, "the entry has no link", False
    if entry.link:
        try:
            if not fetcher.allowed_by_robots(entry.link):
                raise PermanentError("robots.txt disallows fetching the page")
            fetched = fetcher.get(entry.link, cap=PAGE_CAP)
            page = extract_article(fetched.text(), fetched.url)
            problem = "no main text found in the page"
        except Exception as exc:  # a page that cannot be fetched or parsed falls back to the feed's content
            problem, transient = describe(exc), isinstance(exc, TransientError)
            log.info("page %s not used (%s); using the feed's content", entry.link, problem)
    document = article_document(source.source_id, entry, page)
    if document is None:
        error = TransientError if transient else PermanentError  # a page that may come back is tried again
        raise error(f"{problem}, and the feed's own content is too short")
    return document


def _episode_document(source: Source, entry: FeedEntry, fetcher: Fetcher) -> Document:
    """The episode from the first of its transcripts (timed formats first) that can be fetched and read."""
    problems, transient = [], False
    for link in entry.transcripts:
        try:
            fetched = fetcher.get(link.url, cap=TRANSCRIPT_CAP)
            text = fetched.text()
            fmt = detect_format(urlsplit(link.url).path.lower(), link.mime_type or fetched.content_type, text)
            segments = parse_transcript(text, fmt)
        except Exception as exc:  # a hostile transcript (even one that exhausts the parser) is just unusable
            problems.append(f"{link.url}: {describe(exc)}")
            transient = transient or isinstance(exc, TransientError)
            continue
        return transcript_document(
            source.source_id,
            segments,
            entry.title,
            entry.link,
            entry.guid,
            entry.published,
            entry.enclosure_url,
            transcript_format=fmt,
            entry=entry,
        )
    error = TransientError if transient else PermanentError
    raise error("no usable transcript: " + "; ".join(problems))


def describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, UndercurrentError) else f"{type(exc).__name__}: {exc}"


def _entry_key(source_id: str, entry: FeedEntry) -> str | None:
    """The document key an entry will have, when it can be known before fetching anything."""
    return document_key(source_id, entry.guid, entry.link, "") if entry.guid or entry.link else None


def new_entries(
    con: duckdb.DuckDBPyConnection, source: Source, entries: tuple[FeedEntry, ...]
) -> tuple[list[FeedEntry], int]:
    """Entries not stored yet, each key once (feeds repeat GUIDs), in feed order; and how many were known."""
    keys = [_entry_key(source.source_id, entry) for entry in entries]
    known = docstore.known_document_ids(con, [k for k in keys if k])
    fresh, seen_keys, skipped = [], set(), 0
    for entry, key in zip(entries, keys, strict=True):
        if key is not None and (key in known or key in seen_keys):
            skipped += 1
            continue
        if key is not None:
            seen_keys.add(key)
        fresh.append(entry)
    return fresh, skipped


def ingest_feed(
    con: duckdb.DuckDBPyConnection, source: Source, data: bytes, fetcher: Fetcher, workers: int = WORKERS
) -> IngestReport:
    """Store a feed's new entries. Pages are fetched in parallel (the fetcher keeps per-host limits) and stored
    in feed order by this thread, the single writer. Known entries are not fetched again; a bad entry never
    stops the rest. Raises PermanentError when the feed itself cannot be read."""
    feed = parse_feed(data, source.url or None)
    report = IngestReport()
    fresh, report.seen_documents = new_entries(con, source, feed.entries)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fetch") as pool:
        futures = [pool.submit(entry_document, source, entry, fetcher) for entry in fresh]
        store_entries(con, source, fresh, futures, report)
    return report


def store_entries(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    entries: list[FeedEntry],
    jobs: list[Future[Document]],
    report: IngestReport,
) -> bool:
    """Store each entry's document in feed order as its job finishes; a failure is recorded and the rest go on.

    Returns whether any entry failed for a reason that may pass (so the feed should be read in full again)."""
    retry_later = False
    for entry, job in zip(entries, jobs, strict=True):
        try:
            store(con, job.result(), report)
        except Exception as exc:  # one hostile entry must not stop the feed
            retry_later = retry_later or isinstance(exc, TransientError)
            where = entry.link or entry.guid or entry.title or source.url or source.name
            record_failure(con, report, where, source.source_id, exc)
    return retry_later


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PermanentError(f"cannot read: {exc.strerror}") from None


def _read_text(path: Path) -> str:
    return _read_bytes(path).decode("utf-8-sig", errors="replace")


def _sidecar(path: Path) -> dict[str, Any] | None:
    """The episode's metadata beside a transcript file: ``NAME.meta.json`` (show, title, date, audio_url, url)."""
    for candidate in (path.with_name(path.name + SIDECAR), path.with_name(path.stem + SIDECAR)):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError) as exc:
                raise PermanentError(f"sidecar {candidate.name} is not readable JSON ({exc})") from None
            if not isinstance(data, dict):
                raise PermanentError(f"sidecar {candidate.name} must be a JSON object")
            return data
    return None


def _is_transcript(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in TRANSCRIPT_SUFFIXES:
        return True
    return suffix in TEXT_SUFFIXES + PAGE_SUFFIXES and (
        ".transcript" in path.name.lower() or _sidecar(path) is not None
    )


def _local_transcript(con: duckdb.DuckDBPyConnection, path: Path) -> Document:
    text = _read_text(path)
    fmt = detect_format(path.name.lower(), None, text)
    segments = parse_transcript(text, fmt)
    meta = _sidecar(path) or {}
    source = LOCAL_SOURCE
    if meta.get("show"):
        show = str(meta["show"]).strip()
        source = Source(stable_id("src", "show", show), show, "podcast", "")
        docstore.add_source_if_new(con, source)
    published = None
    if meta.get("date"):
        try:
            published = datetime.fromisoformat(str(meta["date"]))
        except ValueError:
            raise PermanentError(f"sidecar date {meta['date']!r} is not an ISO date") from None
        if published.tzinfo is not None:
            published = published.astimezone(UTC).replace(tzinfo=None)
    links = {key: meta.get(key) for key in ("url", "audio_url")}
    for key, value in links.items():
        if value is not None and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            raise PermanentError(f"sidecar {key} must be an http(s) URL, not {value!r}")
    return transcript_document(
        source.source_id,
        segments,
        str(meta.get("title") or path.stem.replace("_", " ")),
        links["url"],
        published=published,
        audio_url=links["audio_url"],
        language=meta.get("language"),
        transcript_format=fmt,
    )


def _file_document(path: Path) -> Document:
    """An article from a local page or text file."""
    suffix = path.suffix.lower()
    source_id = LOCAL_SOURCE.source_id
    if suffix in PAGE_SUFFIXES:
        page = extract_article(_read_text(path), None)
        if page is None:
            raise PermanentError("no main text found in the page")
        return page_document(source_id, None, page, extraction="file")
    if suffix in TEXT_SUFFIXES:
        meta, body = front_matter(_read_text(path))
        text = unwrap(body).strip()
        if not text:
            raise PermanentError("file is empty")
        title = str(meta.get("title") or text.splitlines()[0].lstrip("# ")).strip()[:200]
        published = front_matter_date(meta)
        url = meta.get("source_url") or meta.get("ref") or meta.get("url")
        url = url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
        page = ArticleText(title, None, published, None, None, text)
        return page_document(source_id, url, page, "file")
    if suffix == ".pdf":
        raise PermanentError("PDF files are not supported; convert the transcript or article to text first")
    raise PermanentError(f"unsupported file type {suffix or '(none)'}")


def ingest_paths(con: duckdb.DuckDBPyConnection, targets: list[str], fetcher: Fetcher) -> IngestReport:
    """Ingest files, folders (recursively) and URLs given on the command line."""
    report = IngestReport()
    docstore.add_source_if_new(con, LOCAL_SOURCE)
    for target in targets:
        if target.startswith(("http://", "https://")):
            report.add(_ingest_url(con, target, fetcher))
            continue
        path = Path(target)
        if not path.exists():
            raise UserError(f"no such file or folder: {target}")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.name.endswith(SIDECAR):
                continue  # metadata of the transcript beside it
            try:
                if file.suffix.lower() in FEED_SUFFIXES:
                    report.add(_ingest_feed_file(con, file, fetcher))
                elif _is_transcript(file):
                    store(con, _local_transcript(con, file), report)
                else:
                    store(con, _file_document(file), report)
            except Exception as exc:
                record_failure(con, report, str(file), None, exc)
    return report


def _ingest_feed_file(con: duckdb.DuckDBPyConnection, path: Path, fetcher: Fetcher) -> IngestReport:
    """A feed saved on disk: its own source (keyed by its location), its entries' pages fetched as usual."""
    location = path.resolve().as_uri()
    source = Source(stable_id("src", location), path.stem, "news", location)
    docstore.add_source_if_new(con, source)
    return ingest_feed(con, source, _read_bytes(path), fetcher)


_FEED_STARTS = (b"<?xml", b"<rss", b"<feed", b"<rdf", b"{")


def _ingest_url(con: duckdb.DuckDBPyConnection, url: str, fetcher: Fetcher) -> IngestReport:
    report = IngestReport()
    try:
        fetched = fetcher.get(url, cap=FEED_CAP)
        head = fetched.content[:512].lstrip().lower()
        if "xml" in fetched.content_type or "json" in fetched.content_type or head.startswith(_FEED_STARTS):
            source = Source(source_id_for(url), url, "news", url)
            docstore.add_source_if_new(con, source)  # a configured source keeps its name and kind
            return ingest_feed(con, source, fetched.content, fetcher)
        page = extract_article(fetched.text(), fetched.url)
        if page is None:
            raise PermanentError("no main text found in the page")
        store(con, page_document(LOCAL_SOURCE.source_id, fetched.url, page), report)
    except Exception as exc:
        record_failure(con, report, url, None, exc)
    return report
