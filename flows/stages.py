"""The processing stages: claims, themes, digest and delivery, each glue between store and pure core."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np

from cluster import labels as labelling
from cluster.embed import Embedder
from cluster.metrics import BASELINE_DAYS, day_metrics
from cluster.space import ThemeSpace, default_space
from cluster.themes import ThemeOptions, centroid, discover, plan, remap
from core.errors import PermanentError, TransientError
from core.ids import text_hash
from core.models import Claim, Digest, SegmentSpan
from digest.delivery import DeliveryUncertain, Mailer, OutboxMailer
from digest.mail import build_message, unsubscribe_link
from digest.render import Rendered, render
from digest.select import EVERYONE, Preferences, select_items
from extract.claim_features import AI_TERMS
from extract.claims import LocalJudge, candidates_of, extract_claims
from extract.llm import LlmJudge
from flows import progress
from store import claims as claimstore
from store import digests as digeststore
from store import documents as docstore
from store import themes as themestore
from store.db import transaction

log = logging.getLogger("undercurrent.stages")
DIGEST_TITLE = "Undercurrent daily brief"


@dataclass(frozen=True)
class DocumentJob:
    """One unprocessed document, with everything claim extraction needs (plain data: it may travel to a worker)."""

    document_id: str
    text: str
    spans: tuple[SegmentSpan, ...]
    kind: str
    language: str | None
    canonical: bool  # False: a near-copy of another document, which yields no claims of its own

    @property
    def english(self) -> bool:
        return self.language in (None, "en")


@dataclass(frozen=True)
class DocumentClaims:
    """What extraction found in one document: stored by the flow, the single writer."""

    document_id: str
    claims: list[Claim]
    extractor: str
    fell_back: bool = False  # the language model failed on it and the local classifier decided


def claim_jobs(con: duckdb.DuckDBPyConnection) -> list[DocumentJob]:
    """Every document whose claims have not been extracted yet, in document id order."""
    jobs = []
    for document_id, text, canonical, language, kind in docstore.unprocessed_documents(con):
        spans = tuple(SegmentSpan(*row) for row in docstore.segments_of(con, document_id)) if canonical else ()
        jobs.append(DocumentJob(document_id, text, spans, kind, language, canonical))
    return jobs


def candidate_texts(job: DocumentJob) -> list[str]:
    """The sentences the local classifier would judge (and embed) in this document: none when it judges nothing."""
    if not (job.canonical and job.english):
        return []
    sentences, _, candidates = candidates_of(job.text, job.kind)
    if not any(AI_TERMS.search(s.text) for s in sentences):  # off-topic: extraction never asks the judge
        return []
    return [c.text for c in candidates if c is not None]


def embedding_groups(texts_per_job: list[list[str]], cached: set[str]) -> list[list[str]]:
    """The texts a local run embeds at each document, in one ``embed_with_cache`` call each (pure).

    A local run goes through the documents in order: at each it embeds, together, the candidate sentences not
    cached before and not embedded at an earlier document. int8 vectors depend slightly on what they are embedded
    with, so reproducing these groups elsewhere reproduces the vectors.
    """
    seen = set(cached)
    groups = []
    for texts in texts_per_job:
        new = {text_hash(t): t for t in texts if text_hash(t) not in seen}
        groups.append([new[h] for h in sorted(new)])
        seen.update(new)
    return groups


def document_claims(job: DocumentJob, local: LocalJudge, llm: LlmJudge | None = None) -> DocumentClaims:
    """Claims of one document (pure but for the judges): the language model when given, else the local classifier.

    A document the language model fails on falls back to the local classifier; a near-copy or a document not in
    English yields none (the extractor reads English for now).
    """
    if not (job.canonical and job.english):
        return DocumentClaims(job.document_id, [], "local")
    if llm is not None:
        try:
            return DocumentClaims(
                job.document_id, extract_claims(job.document_id, job.text, job.spans, job.kind, llm), llm.name
            )
        except TransientError as exc:
            log.warning("claims of %s: %s; the local classifier decided instead", job.document_id, exc)
            return DocumentClaims(
                job.document_id, extract_claims(job.document_id, job.text, job.spans, job.kind, local), "local", True
            )
    return DocumentClaims(
        job.document_id, extract_claims(job.document_id, job.text, job.spans, job.kind, local), "local"
    )


def store_document_claims(con: duckdb.DuckDBPyConnection, found: DocumentClaims, run_date: date) -> None:
    """Save a document's claims and mark it processed, in one transaction."""
    claimstore.save_claims(con, found.document_id, found.claims, run_date, found.extractor)


def claims_counts(jobs: list[DocumentJob], found: list[DocumentClaims], with_llm: bool) -> dict[str, int]:
    counts = {
        "documents_processed": len(found),
        "claims_extracted": sum(len(f.claims) for f in found),
        "documents_skipped_not_english": sum(not job.english for job in jobs),
    }
    if with_llm:
        counts["claims_llm_fallbacks"] = sum(f.fell_back for f in found)
    return counts


def claims_stage(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    embedder: Embedder | None = None,
    llm: LlmJudge | None = None,
) -> dict[str, int]:
    """Extract claims from every unprocessed document, here, one document after another.

    The local classifier judges candidates (with sentence vectors when an embedder is given, cached like claim
    vectors); with ``llm`` set the language model judges instead, and a document it fails on falls back to the
    local classifier. Near-duplicate copies yield no claims of their own; documents not in English are marked
    processed without claims and counted. ``flows.scaleout`` runs the same per-document work on a Dask cluster.
    """
    local = LocalJudge(embed=(lambda texts: vectors_for(con, embedder, list(texts))) if embedder else None)
    jobs = claim_jobs(con)
    found = []
    for done, job in enumerate(jobs, start=1):
        result = document_claims(job, local, llm)
        store_document_claims(con, result, run_date)
        found.append(result)
        progress.report("claims", done, len(jobs))
    return claims_counts(jobs, found, llm is not None)


EMBED_CHUNK = 2048


def vectors_for(con: duckdb.DuckDBPyConnection, embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors for texts, from the cache where possible; new vectors are cached. No text is embedded twice."""
    cached = claimstore.cached_vectors(con, embedder.name, sorted({text_hash(t) for t in texts}))
    wanted = len({text_hash(t) for t in texts} - set(cached))

    def store(new: dict[str, np.ndarray], done: int) -> None:  # each chunk is cached as it is done, and shown
        claimstore.cache_vectors(con, embedder.name, new)
        progress.report("embedding", done, wanted)

    return embed_with_cache(texts, cached, embedder.encode, store)


def embed_with_cache(
    texts: list[str],
    cached: dict[str, np.ndarray],
    encode: Callable[[list[str]], np.ndarray],
    on_chunk: Callable[[dict[str, np.ndarray], int], None] | None = None,
) -> np.ndarray:
    """Vectors for texts: from ``cached`` (text hash -> vector) where present; the rest encoded once each, in
    text-hash order and chunks of EMBED_CHUNK, and added to ``cached``. The same texts and cache give the same
    batches, so the same vectors, wherever this runs (a Dask worker mirrors a local run)."""
    hashes = [text_hash(t) for t in texts]
    missing = sorted({h: t for h, t in zip(hashes, texts, strict=True) if h not in cached}.items())
    for start in range(0, len(missing), EMBED_CHUNK):
        chunk = missing[start : start + EMBED_CHUNK]
        fresh = encode([t for _, t in chunk])
        new = {h: fresh[i] for i, (h, _) in enumerate(chunk)}
        cached.update(new)
        if on_chunk is not None:
            on_chunk(new, start + len(chunk))
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([cached[h] for h in hashes])


def claim_vectors_stage(con: duckdb.DuckDBPyConnection, embedder: Embedder, run_date: date) -> None:
    """Plain MiniLM vectors for the claims the themes stage is about to consider.

    Search ranks claims by these vectors. The claims stage caches the vectors of the sentences it judged, but a
    claim's text may differ from its sentence (an anaphoric claim carries the sentence before it; markup is
    removed), and with the LLM judge no sentence is embedded at all: so the claims themselves are embedded here,
    once each (cached ones are not embedded again).
    """
    pending = themestore.unthemed_claims(con, run_date, ThemeOptions().retry_days)
    vectors_for(con, embedder, [text for _, text in pending])


def themes_stage(
    con: duckdb.DuckDBPyConnection,
    embedder: Embedder,
    run_date: date,
    options: ThemeOptions | None = None,
    space: ThemeSpace | None = None,
) -> dict[str, int | float]:
    """Assign new claims to existing themes; cluster the rest; new clusters become new themes.

    The work is in proportion to the day's claims (and the unthemed ones of the last ``retry_days``): existing
    themes are read as centroids, and only the themes that gained claims are relabelled, from stored term counts.
    """
    options = options or ThemeOptions()
    space = space or default_space()
    check_encoder(embedder, space)
    refreshed = refresh_centroids(con, embedder, space)
    if themestore.terms_missing(con):  # a database from before term counts were kept: count them once
        with transaction(con):
            relabel(con)
    pending = themestore.unthemed_claims(con, run_date, options.retry_days)
    vectors = space.apply(vectors_for(con, embedder, [text for _, text in pending]))
    theme_ids, centroids = themestore.theme_centroids(con, space.name)
    result = plan(vectors, centroids, options)
    with transaction(con):
        first_new = themestore.next_theme_id(con)
        for number, middle in enumerate(result.new_centroids):
            themestore.create_theme(con, first_new + number, middle, run_date, space.name)
        targets = theme_ids + [first_new + n for n in range(len(result.new_centroids))]
        pairs = [(pending[i][0], targets[t], sim) for i, (t, sim) in sorted(result.assignments.items())]
        themestore.assign_claims(con, pairs, run_date)
        themestore.mark_considered(con, [claim_id for claim_id, _ in pending], run_date)
        repeat_ids = themestore.adopt_linked(con, run_date)
        gained: dict[int, Counter[str]] = {}
        closest: dict[int, tuple[float, str]] = {}
        for i, (t, sim) in sorted(result.assignments.items()):
            gained.setdefault(targets[t], Counter()).update(labelling.terms(pending[i][1]))
            best = closest.get(targets[t])
            if best is None or sim > best[0] or (sim == best[0] and pending[i][0] < best[1]):
                closest[targets[t]] = (sim, pending[i][0])
        themestore.offer_representatives(con, closest)
        themestore.add_terms(con, gained)
        relabel(con, sorted(gained))
        themestore.refresh_seen(con, [claim_id for claim_id, _, _ in pairs] + repeat_ids)
        history, history_total = themestore.window_counts(con, run_date, BASELINE_DAYS)
        themestore.save_day_metrics(
            con, run_date, day_metrics(themestore.day_counts(con, run_date), history, history_total)
        )
    joined = sum(1 for t, _ in result.assignments.values() if t < len(theme_ids))
    counts: dict[str, int | float] = {
        "claims_joined": joined,
        "themes_created": len(result.new_centroids),
        "claims_unthemed": len(pending) - len(result.assignments),
        "unthemed_share": round((len(pending) - len(result.assignments)) / len(pending), 3) if pending else 0.0,
        "claim_repeats_themed": len(repeat_ids),
    }
    if refreshed:
        counts["theme_centroids_refreshed"] = refreshed
    return counts


def check_encoder(embedder: Embedder, space: ThemeSpace) -> None:
    """Themes are grouped in the vectors of the encoder the space was learned over, never another's."""
    if embedder.adapter_digest != space.adapter_digest:
        raise ValueError(
            f"the theme space needs the theme encoder {space.adapter_digest}, not {embedder.adapter_digest}: "
            "use theme_embedder()"
        )


def refresh_centroids(con: duckdb.DuckDBPyConnection, embedder: Embedder, space: ThemeSpace) -> int:
    """Recompute the centroids computed in another theme space (once, after the shipped space changes)."""
    stale = themestore.stale_members(con, space.name)
    if not stale:
        return 0
    with transaction(con):
        for theme_id, texts in sorted(stale.items()):
            themestore.set_centroid(con, theme_id, centroid(space.apply(vectors_for(con, embedder, texts))), space.name)
    return len(stale)


def recluster_due(con: duckdb.DuckDBPyConnection, run_date: date, every_days: int) -> bool:
    """Whether the periodic full re-clustering is due (``every_days`` 0: never on its own)."""
    if every_days <= 0:
        return False
    last = themestore.last_recluster(con)
    if last is None:  # the first one waits until there is history worth re-clustering
        first = con.execute("SELECT min(created_on) FROM themes").fetchone()
        return bool(first and first[0] is not None and (run_date - first[0]).days >= every_days)
    return (run_date - last).days >= every_days


def recluster_stage(
    con: duckdb.DuckDBPyConnection,
    embedder: Embedder,
    day: date,
    options: ThemeOptions | None = None,
    space: ThemeSpace | None = None,
) -> dict[str, int]:
    """Cluster every claim afresh and map the result onto the existing themes: ids are kept, themes that now
    form one are merged, parts that now belong elsewhere move (a split), new clusters get new ids; every
    change is recorded in theme_changes. Claims the clustering leaves as noise keep their theme."""
    options = options or ThemeOptions()
    space = space or default_space()
    check_encoder(embedder, space)
    rows = themestore.live_claims(con)
    if not rows:
        return {"claims_moved": 0, "themes_merged": 0, "themes_created": 0}
    vectors = space.apply(vectors_for(con, embedder, [text for _, text, _ in rows]))
    result = remap([theme for _, _, theme in rows], discover(vectors, options))
    with transaction(con):
        first_new = themestore.next_theme_id(con)
        resolve = {-(k + 1): first_new + k for k in range(result.new_themes)}
        for placeholder, theme_id in sorted(resolve.items(), key=lambda kv: kv[1]):
            members = [i for i, target in result.assign.items() if target == placeholder]
            themestore.create_theme(con, theme_id, centroid(vectors[members]), day, space.name)
        moves = [(rows[i][0], resolve.get(t, t), 0.0) for i, t in sorted(result.assign.items())]
        themestore.move_claims(con, moves, day)
        for old, new, count in result.splits:
            themestore.record_change(con, day, "split", old, resolve.get(new, new), count, "recluster")
        for old, new in result.merges:
            themestore.merge_themes(con, old, new, day, reason="recluster")
        final = dict(con.execute("SELECT claim_id, theme_id FROM claim_themes").fetchall())
        by_theme: dict[int, list[int]] = {}
        for i, (claim_id, _, _) in enumerate(rows):
            if claim_id in final:
                by_theme.setdefault(final[claim_id], []).append(i)
        touched = {new for _, new, _ in moves} | {new for _, new in result.merges} | {o for o, _, _ in result.splits}
        for theme_id in sorted(touched & by_theme.keys()):
            members = by_theme[theme_id]
            middle = centroid(vectors[members])
            themestore.set_centroid(con, theme_id, middle, space.name)
            sims = vectors[members] @ middle
            best = int(np.argmax(sims))
            themestore.set_representative(con, theme_id, rows[members[best]][0], float(sims[best]))
        if moves or result.merges:
            relabel(con)
            themestore.refresh_seen(con)
        themestore.record_recluster(con, day, len(rows), len(moves), len(result.merges), result.new_themes)
    return {"claims_moved": len(moves), "themes_merged": len(result.merges), "themes_created": result.new_themes}


def relabel(con: duckdb.DuckDBPyConnection, theme_ids: list[int] | None = None) -> None:
    """Recompute themes' key phrases and labels (an operator's label stays).

    With ``theme_ids`` only those themes are relabelled, from their stored term counts weighted against every
    theme's (the others keep the phrases weighed at their last update: relabelling all of them daily would cost
    the whole history); without, every theme's term counts are rebuilt from its claims first and every theme
    is relabelled (after merges, moves and re-clusterings).
    """
    if theme_ids is None:
        members = themestore.theme_members(con)
        counts = {t: Counter(term for _, text in members[t] for term in labelling.terms(text)) for t in members}
        themestore.replace_terms(con, counts, every=True)
        ids = sorted(members)
    else:
        counts = themestore.term_counts(con, theme_ids)
        ids = sorted(theme_ids)
    if not ids:
        return
    frequency, average = themestore.term_frequency(con, sorted({t for c in counts.values() for t in c}))
    labels = {}
    for theme_id in ids:
        keyphrases = labelling.score_terms(counts[theme_id], frequency, average)
        labels[theme_id] = (labelling.label_from(keyphrases), keyphrases)
    themestore.set_labels(con, labels)


@dataclass(frozen=True)
class BuiltDigest:
    rendered: Rendered
    items: int
    reused: bool


def selection_inputs(con: duckdb.DuckDBPyConnection, run_date: date) -> tuple[list[Any], dict[int, Any]]:
    """What the selector reads for a date: the themed claims (new since the previous brief) and the themes."""
    since = digeststore.previous_digest_time(con, run_date)
    return digeststore.candidates(con, run_date, since), digeststore.theme_infos(con, run_date)


def digest_stage(con: duckdb.DuckDBPyConnection, run_date: date, run_id: str | None) -> BuiltDigest | None:
    """Build and store the digest for the date, or reuse the stored one; None when nothing is new."""
    existing = digeststore.load_rendered(con, run_date)
    if existing is not None:
        return BuiltDigest(existing, digeststore.item_count(con, run_date), reused=True)
    items = select_items(*selection_inputs(con, run_date), digeststore.featured_claims(con, run_date))
    if not items:
        log.warning("no new themed claims for %s: no digest", run_date)
        return None
    digest = Digest(run_date, tuple(items), DIGEST_TITLE)
    rendered = render(digest)
    digeststore.save_digest(con, digest, rendered, run_id)
    return BuiltDigest(rendered, len(items), reused=False)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int
    uncertain: int
    personalised: int = 0
    skipped: int = 0  # preferences left nothing to send that day


def personal_briefs(
    con: duckdb.DuckDBPyConnection, run_date: date
) -> Callable[[str, Preferences], tuple[Rendered, list[Any]] | None]:
    """A function giving a subscriber's brief of ``run_date`` for their preferences, with its items (None:
    nothing matches). The selector's inputs are read once; what the subscriber was sent before is left out."""
    inputs: list[Any] = []

    def brief(subscriber_id: str, preferences: Preferences) -> tuple[Rendered, list[Any]] | None:
        if not inputs:
            inputs.extend(selection_inputs(con, run_date))
        excluded = digeststore.featured_claims(con, run_date, subscriber_id)
        items = select_items(inputs[0], inputs[1], excluded, preferences)
        return (render(Digest(run_date, tuple(items), DIGEST_TITLE)), items) if items else None

    return brief


def deliver_stage(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    rendered: Rendered,
    mailer: Mailer,
    sender: str,
    public_url: str | None = None,
) -> DeliveryReport:
    """Send to every active subscriber who has not had this date's digest; each outcome is committed.

    A row left 'pending' by a crash is not retried over SMTP: the message may have gone out before the crash.
    For the outbox the answer is on disk: the file is there (written) or it is not (written now).
    """
    outcomes: Counter[str] = Counter()
    digeststore.ensure_tokens(con)
    if isinstance(mailer, OutboxMailer):  # a file either exists whole (written atomically) or not at all
        for subscriber_id in digeststore.pending_deliveries(con, run_date, "outbox"):
            path = mailer.folder / f"{run_date.isoformat()}-{subscriber_id}.eml"
            if path.exists():
                digeststore.set_delivery_status(con, run_date, subscriber_id, "written", str(path))
            else:
                digeststore.forget_delivery(con, run_date, subscriber_id)  # nothing was written: send it now
    personal = personal_briefs(con, run_date)
    for subscriber_id, email, token in digeststore.pending_recipients(con, run_date):
        preferences = digeststore.preferences_of(con, subscriber_id)
        brief: Rendered | None = rendered
        made = None
        if preferences != EVERYONE:
            made = personal(subscriber_id, preferences)
            brief = made[0] if made else None
        if brief is None:
            message_id = build_message(rendered, run_date, sender, email, subscriber_id)["Message-ID"]
            digeststore.record_delivery(
                con,
                run_date,
                subscriber_id,
                "skipped",
                str(message_id),
                mailer.channel,
                "nothing matched the preferences",
            )
            outcomes["skipped"] += 1
            continue
        outcomes["personalised"] += brief is not rendered
        link = unsubscribe_link(public_url, token)
        message = build_message(brief, run_date, sender, email, subscriber_id, link)
        message_id = str(message["Message-ID"])
        filename = f"{run_date.isoformat()}-{subscriber_id}.eml"
        digeststore.record_delivery(con, run_date, subscriber_id, "pending", message_id, mailer.channel, None)
        try:
            detail = mailer.send(message, filename)
            status = "sent" if mailer.channel == "smtp" else "written"
        except TransientError as exc:
            status, detail = "failed", str(exc)  # nothing was handed over: the next run retries
        except DeliveryUncertain as exc:
            status, detail = "unknown", str(exc)  # may have been delivered: never resent automatically
        except PermanentError as exc:
            status, detail = "bounced", str(exc)
        if status not in ("sent", "written"):
            log.warning("delivery to %s %s: %s", email, status, detail)
        digeststore.record_delivery(con, run_date, subscriber_id, status, message_id, mailer.channel, detail)
        if made and status in ("sent", "written", "unknown"):  # it reached (or may have reached) the reader
            digeststore.save_personal_items(con, run_date, subscriber_id, made[1])
        outcomes[status] += 1
    return DeliveryReport(
        sent=outcomes["sent"] + outcomes["written"],
        failed=outcomes["failed"] + outcomes["bounced"],
        uncertain=outcomes["unknown"],
        personalised=outcomes["personalised"],
        skipped=outcomes["skipped"],
    )
