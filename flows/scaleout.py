"""Claim extraction and embedding on a Dask cluster (prefect-dask's ``DaskTaskRunner``).

Workers get plain documents and send back claims and the sentence vectors they computed; they never open the
database. The flow stays the single DuckDB writer: it stores each document's claims in document order (so links
between repeated claims come out as in a local run) and caches the vectors, as a local claims stage would.

``dask_address`` is a scheduler address (``tcp://10.0.0.5:8786``) or ``local`` / ``local:N`` for a temporary
cluster of N worker processes on this machine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from prefect import task
from prefect.cache_policies import NONE

from cluster.embed import shared_embedder
from core.ids import text_hash
from core.settings import Settings
from extract.claims import LocalJudge
from extract.llm import LlmJudge
from flows import progress, stages
from store import claims as claimstore
from store.db import connect

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb
    from prefect_dask import DaskTaskRunner

log = logging.getLogger("undercurrent.scaleout")
CONNECT_TIMEOUT = "30s"
WORKERS_TIMEOUT = 60.0  # seconds for at least one worker to be there
BATCH_TIMEOUT = 3600.0  # seconds to wait for one batch's result before the stage fails
BATCH_DOCUMENTS = 8  # documents per Dask task: big enough to amortise a task run, small enough to spread out


@dataclass(frozen=True)
class BatchClaims:
    found: list[stages.DocumentClaims]
    embedder: str  # the cache key of the path that computed the vectors on the worker
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # text hash -> sentence vector, new ones only


@dataclass(frozen=True)
class KnownVectors:
    """What a worker needs to embed a batch exactly as a local run would.

    ``vectors``: the cached vectors of the batch's candidate sentences. ``groups``: the embedding groups of
    earlier documents (in other batches) that hold sentences this batch repeats; the worker embeds each group
    whole first, as the local run did, so a repeated sentence gets the very same vector.
    """

    model: str
    vectors: dict[str, np.ndarray]
    groups: list[list[str]] = field(default_factory=list)


def llm_judge(settings: Settings) -> LlmJudge | None:
    if settings.llm_url and settings.llm_model:
        key = settings.llm_api_key.reveal() if settings.llm_api_key else None
        return LlmJudge(settings.llm_url, settings.llm_model, key)
    return None


@task(cache_policy=NONE, retries=1, retry_delay_seconds=5)
def extract_batch(
    jobs: list[stages.DocumentJob], known: KnownVectors, llm_endpoint: tuple[str, str] | None
) -> BatchClaims:
    """On a worker: claims of a few documents, with the vectors of every new sentence the classifier embedded.

    Sentences in ``known`` (cached under the worker's own embedding path) are not embedded again, and new ones
    are embedded in the batches a local run makes (``stages.embed_with_cache``). ``llm_endpoint`` is the language
    model's (url, model) when one judges; its key is never a parameter (Prefect records parameters): the worker
    reads it from its own settings (``UNDERCURRENT_LLM_API_KEY`` or its config file).
    """
    embedder = shared_embedder()
    cached = dict(known.vectors) if known.model == embedder.name else {}
    computed: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        return stages.embed_with_cache(list(texts), cached, embedder.encode, lambda new, _: computed.update(new))

    for group in known.groups:
        embed(group)

    llm = None
    if llm_endpoint is not None:
        llm = LlmJudge(llm_endpoint[0], llm_endpoint[1], _worker_llm_key())
    try:
        found = [stages.document_claims(job, LocalJudge(embed=embed), llm) for job in jobs]
    finally:
        if llm is not None:
            llm.close()
    return BatchClaims(found, embedder.name, computed)


def _worker_llm_key() -> str | None:
    """The language model's key from the worker's own settings (environment or config file)."""
    import os

    from core.errors import UndercurrentError
    from core.settings import ENV_PREFIX, load_settings

    try:
        key = load_settings().llm_api_key
    except UndercurrentError:  # another setting of the worker's config is wrong: the key may still be in the env
        return os.environ.get(ENV_PREFIX + "LLM_API_KEY") or None
    return key.reveal() if key else None


def task_runner(address: str) -> DaskTaskRunner:
    from prefect_dask import DaskTaskRunner

    if address == "local" or address.startswith("local:"):
        workers = int(address.partition(":")[2] or 2)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    return DaskTaskRunner(address=address, client_kwargs={"timeout": CONNECT_TIMEOUT, "set_as_default": False})


class ClusterUnreachable(Exception):
    """The Dask scheduler could not be reached, or has no workers: the caller extracts here instead."""


def plan_embeddings(
    con: duckdb.DuckDBPyConnection, model: str, jobs: list[stages.DocumentJob], size: int
) -> list[KnownVectors]:
    """For each batch of ``size`` jobs: the cached vectors it needs and the earlier embedding groups it repeats."""
    texts = [stages.candidate_texts(job) for job in jobs]
    cached = claimstore.cached_vectors(con, model, sorted({text_hash(t) for ts in texts for t in ts}))
    groups = stages.embedding_groups(texts, set(cached))
    owner = {text_hash(t): j for j, group in enumerate(groups) for t in group}
    plans = []
    for start in range(0, len(jobs), size):
        needed = {text_hash(t) for ts in texts[start : start + size] for t in ts}
        earlier = sorted({owner[h] for h in needed if h in owner and owner[h] < start})
        plans.append(
            KnownVectors(model, {h: cached[h] for h in sorted(needed) if h in cached}, [groups[j] for j in earlier])
        )
    return plans


def claims_on_dask(db: Path, settings: Settings, run_date: date, address: str) -> dict[str, int]:
    """The claims stage with extraction and embedding on the cluster at ``address``; the writes stay here.

    Raises ClusterUnreachable, before anything is stored, when no scheduler answers at ``address`` or no worker
    joins it within the connect timeout. A batch that fails on the cluster after its retry fails the stage;
    documents stored before it stay stored, and the next run extracts the rest.
    """
    model = shared_embedder().name  # the path a local run would use (naming it loads no model)
    with connect(db) as con:
        jobs = stages.claim_jobs(con)
        batches = [jobs[i : i + BATCH_DOCUMENTS] for i in range(0, len(jobs), BATCH_DOCUMENTS)]
        known = plan_embeddings(con, model, jobs, BATCH_DOCUMENTS)
    endpoint = (settings.llm_url, settings.llm_model) if settings.llm_url and settings.llm_model else None
    if not jobs:
        return stages.claims_counts([], [], endpoint is not None)
    found: list[stages.DocumentClaims] = []
    with task_runner(address) as runner:
        try:  # connect now, so that an unreachable scheduler is told apart from a failing task
            runner.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnreachable(f"no Dask scheduler with workers answered at {address}: {exc}") from exc
        futures = [
            runner.submit(extract_batch, {"jobs": batch, "known": vectors, "llm_endpoint": endpoint})
            for batch, vectors in zip(batches, known, strict=True)
        ]
        log.info("claims of %d documents on Dask at %s, in %d tasks", len(jobs), address, len(futures))
        with connect(db) as con:
            for future in futures:  # in submission order: documents are stored as a local run stores them
                batch = future.result(timeout=BATCH_TIMEOUT)
                claimstore.cache_vectors(con, batch.embedder, batch.vectors)
                for result in batch.found:
                    stages.store_document_claims(con, result, run_date)
                found.extend(batch.found)
                progress.report("claims", len(found), len(jobs))
    return stages.claims_counts(jobs, found, endpoint is not None)
