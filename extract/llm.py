"""The optional language-model judge: an OpenAI-compatible chat endpoint decides which candidates are claims.

Off by default (set ``UNDERCURRENT_LLM_URL``, e.g. ``http://127.0.0.1:8000/v1``, and ``UNDERCURRENT_LLM_MODEL``).
It sees the same candidates as the local classifier, with the sentence before each, and answers claim / not
claim, actors and type as JSON. Any failure (network, status, malformed answer) raises ``TransientError``; the
claims stage then falls back to the local classifier for that document and records it, so a flaky endpoint
never stops a run or loses a document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import httpx

from core.errors import TransientError
from extract.claim_features import Candidate
from extract.claim_model import CLAIM_TYPES
from extract.claims import Judgement

BATCH = 20
_JSON = re.compile(r"\{.*\}", re.DOTALL)

INSTRUCTIONS = """You label sentences for a database of claims about the AI strategies of China and the United States.
A sentence is a claim when it asserts something (analysis, opinion, reported development, forecast, recommendation)
about the AI strategy, policy, competitive behaviour, advantages or prospects of China or the United States, their
governments, or their companies, models and people, and that actor is named in the sentence or is the referent of a
pronoun or "this approach" in the sentence before. Not claims: page furniture, headings, questions, off-topic news
(trade, drones, smuggling) even about China, AI statements with no Chinese or US actor, conversational filler.
For each numbered item answer with: n, claim (true/false), actors (subset of ["CN","US"]: whose strategy the claim is
about), type (thesis, fact, forecast or recommendation), confidence (0 to 1).
Reply with JSON only: {"items": [{"n": 1, "claim": true, "actors": ["CN"], "type": "thesis", "confidence": 0.9}]}"""


class LlmJudge:
    """Judges candidates with a chat-completions endpoint; one request per batch of candidates."""

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0, batch: int = BATCH
    ) -> None:
        self.model = model
        self.batch = batch
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=httpx.Timeout(timeout, connect=10.0)
        )

    @property
    def name(self) -> str:
        return f"llm:{self.model}"

    def close(self) -> None:
        self._client.close()

    def judge(self, candidates: Sequence[Candidate]) -> list[Judgement]:
        out: list[Judgement] = []
        for start in range(0, len(candidates), self.batch):
            out.extend(self._judge_batch(candidates[start : start + self.batch]))
        return out

    def _judge_batch(self, batch: Sequence[Candidate]) -> list[Judgement]:
        lines = []
        for n, candidate in enumerate(batch, start=1):
            before = f"   (sentence before: {candidate.context})\n" if candidate.context else ""
            lines.append(f"{n}. {candidate.text}\n{before}")
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": "\n".join(lines)},
            ],
        }
        try:
            response = self._client.post("chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise TransientError(f"language model unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise TransientError(f"language model answered HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
            return parse_answer(content, len(batch))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise TransientError(f"language model answer unusable: {exc}") from None


def parse_answer(content: str, expected: int) -> list[Judgement]:
    """Judgements from the model's JSON reply; every item 1..expected must be answered."""
    match = _JSON.search(content or "")
    if not match:
        raise ValueError("no JSON object in the reply")
    data: Any = json.loads(match.group(0))
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("no items list")
    by_n: dict[int, Judgement] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("n"), int):
            continue
        claim = item.get("claim") is True
        actors = tuple(sorted({a for a in item.get("actors") or () if a in ("CN", "US")}))
        kind = item.get("type") if item.get("type") in CLAIM_TYPES else None
        confidence = item.get("confidence")
        score = float(confidence) if isinstance(confidence, int | float) and 0 <= confidence <= 1 else 0.8
        by_n[item["n"]] = Judgement(claim and bool(actors), round(score, 4), kind, actors or None)
    missing = [n for n in range(1, expected + 1) if n not in by_n]
    if missing:
        raise ValueError(f"items {missing[:5]} unanswered")
    return [by_n[n] for n in range(1, expected + 1)]
