"""Claim extraction: segmentation, the gazetteer, candidates, the shipped classifier's behaviour, two-sentence
claims, hard refusals, readers' text, plain-text input, and the optional language-model judge over real HTTP."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from extract.actors import actors_of, find_mentions
from extract.claim_features import Candidate
from extract.claims import Judgement, LocalJudge, decide, extract_claims, reader_text
from extract.llm import LlmJudge, parse_answer
from extract.plaintext import front_matter, front_matter_date, unwrap
from extract.sentences import split_sentences


class AcceptAll:
    """A judge that accepts every candidate: isolates what the extractor does around the judge."""

    def judge(self, candidates: Sequence[Candidate]) -> list[Judgement]:
        return [Judgement(True, 0.9, "thesis") for _ in candidates]


def _claims_of(path: Path) -> list:
    return extract_claims("doc", path.read_text(encoding="utf-8"))


# --- segmentation and gazetteer -------------------------------------------------------------------------------


def test_sentences_keep_offsets_and_abbreviations() -> None:
    text = (
        "The U.S. Commerce Department acted. Dr. Li disagreed!\nA new paragraph\n"
        "Nvidia sells the MI325X. This rival chip is AMD's. Prices rose."
    )
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "The U.S. Commerce Department acted.",
        "Dr. Li disagreed!",
        "A new paragraph",
        "Nvidia sells the MI325X.",
        "This rival chip is AMD's.",
        "Prices rose.",
    ]
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_gazetteer_reads_transcript_spellings_and_leaves_out_quoted_speakers() -> None:
    entities = [m.entity for m in find_mentions("Deep Seq, DeepSeq and Deep SEQ beat Chat GPT; Quen and High Flyer")]
    assert entities == ["DeepSeek", "DeepSeek", "DeepSeek", "OpenAI", "Alibaba", "DeepSeek"]
    # the speaker is the source of the sentence, not its subject
    assert actors_of(find_mentions("Amodei says DeepSeek's costs are on the expected curve.")) == ("CN",)
    # alone, a speaker still tells whose view it is
    assert actors_of(find_mentions("Sam Altman said open weights are the right call.")) == ("US",)
    # longest match wins: one mention for "Jensen Huang", none double-counted
    assert [m.entity for m in find_mentions("Jensen Huang visited Beijing.")] == ["Nvidia", "China"]
    # TSMC is named but followed as neither country
    assert actors_of(find_mentions("TSMC makes chips for Huawei.")) == ("CN",)


# --- the shipped classifier on real documents -------------------------------------------------------------------


def test_seed_article_furniture_and_off_topic_teasers_are_refused(shared: Path) -> None:
    claims = _claims_of(shared / "seeds" / "000_ca840be5131ca0b3.txt")
    texts = [c.text for c in claims]
    assert len(claims) >= 12
    for junk in (
        "Sign in to join the conversation",
        "AI-generated",
        "smuggling",
        "underwater drone",
        "Share your thoughts",
        "paramount leader",
    ):
        assert not any(junk in t for t in texts), junk


def test_anaphoric_sentence_becomes_a_two_sentence_claim(shared: Path) -> None:
    text = (shared / "seeds" / "000_ca840be5131ca0b3.txt").read_text(encoding="utf-8")
    claims = extract_claims("doc", text)
    end_run = [c for c in claims if "This approach also serves as an end-run" in c.text]
    assert len(end_run) == 1
    claim = end_run[0]
    assert not claim.text.startswith("This approach")  # the sentence before comes with it
    assert text[claim.start_char : claim.end_char] == claim.quote
    assert len(split_sentences(claim.quote)) == 2
    assert set(claim.actors) == {"CN", "US"}


def test_quotes_are_exact_spans_with_actors_types_and_scores(shared: Path) -> None:
    text = (shared / "seeds" / "002_2a1162cb6719bb60.txt").read_text(encoding="utf-8")
    claims = extract_claims("doc", text)
    assert len(claims) >= 15
    for claim in claims:
        assert text[claim.start_char : claim.end_char] == claim.quote
        assert claim.actors and set(claim.actors) <= {"CN", "US"}
        assert claim.claim_type in {"thesis", "fact", "forecast", "recommendation"}
        assert 0 < claim.score <= 1
    assert [c.seq for c in claims] == list(range(len(claims)))


def test_questions_headings_and_sponsor_reads_are_not_claims() -> None:
    text = (
        "Two Superpowers, Two Playbooks\n"
        "Will China's open models win over developers in the United States?\n"
        "This episode is brought to you by a sponsor who loves AI models from China and the US.\n"
        "Beijing is using open-weight models as a loss leader to win developers away from OpenAI."
    )
    claims = extract_claims("doc", text)
    assert [c.text for c in claims] == [
        "Beijing is using open-weight models as a loss leader to win developers away from OpenAI."
    ]
    assert claims[0].actors == ("CN", "US")
    assert claims[0].entities == ("China", "OpenAI")


def test_questions_and_furniture_are_refused_whatever_the_judge_says() -> None:
    text = (
        "Is DeepSeek about to overtake OpenAI on price?\n"
        "Sign up for our newsletter on China and AI chips.\n"
        "DeepSeek cut its API prices by half to undercut OpenAI."
    )
    decisions = decide(text, "article", AcceptAll())
    assert [d.refused for d in decisions] == ["question", "furniture", None]
    assert [c.text for c in extract_claims("doc", text, judge=AcceptAll())] == [
        "DeepSeek cut its API prices by half to undercut OpenAI."
    ]


def test_sentences_out_of_reach_of_any_actor_are_never_judged() -> None:
    text = "Open models keep getting cheaper every month.\nDeveloper adoption follows price."
    decisions = decide(text, "article", AcceptAll())
    assert all(d.candidate is None and not d.accepted for d in decisions)


def test_claim_types_and_hedging() -> None:
    text = (
        "Washington should fund open-source AI models to compete with Chinese labs.\n"
        "DeepSeek will release a cheaper model that undercuts OpenAI pricing next year.\n"
        "Alibaba released three proprietary Qwen models in three days last week.\n"
        "China's open models may be a deliberate strategy to commoditise AI software."
    )
    kinds = [(c.claim_type, c.hedged) for c in extract_claims("doc", text)]
    assert kinds == [("recommendation", False), ("forecast", False), ("fact", False), ("thesis", True)]


def test_claim_ids_are_stable() -> None:
    text = "China is building the Android of AI while the US builds the Apple of AI models."
    assert extract_claims("d", text)[0].claim_id == extract_claims("d", text)[0].claim_id
    assert extract_claims("d", text)[0].claim_id != extract_claims("e", text)[0].claim_id


def test_the_document_voice_gives_an_official_text_its_actor() -> None:
    text = (
        "The White House today released an order on American AI exports.\n"
        "The United States will promote the export of the full American AI technology stack.\n"
        "The Order directs the Secretary of Commerce to establish an AI exports program within 90 days.\n"
        "Federal financing tools will support priority AI export packages, the White House said."
    )
    claims = extract_claims("doc", text, judge=AcceptAll())
    directive = [c for c in claims if c.text.startswith("The Order directs")]
    assert directive and directive[0].actors == ("US",)


def test_embedding_features_change_scores_but_not_the_contract(shared: Path) -> None:
    from cluster.embed import shared_embedder

    text = (shared / "seeds" / "003_437c8fcb4adb72d1.txt").read_text(encoding="utf-8")
    lexical = extract_claims("doc", text)
    full = extract_claims("doc", text, judge=LocalJudge(embed=shared_embedder().encode))
    assert full and lexical
    assert {c.claim_id: c.score for c in full} != {c.claim_id: c.score for c in lexical}
    for claim in full:
        assert text[claim.start_char : claim.end_char] == claim.quote


def test_reader_text_drops_markdown_but_quote_stays_verbatim() -> None:
    text = "- **DeepSeek** open-sourced [R1](https://example.com/r1) under an MIT licence, undercutting OpenAI."
    (claim,) = extract_claims("doc", text, judge=AcceptAll())
    assert claim.quote == text
    assert claim.text == "DeepSeek open-sourced R1 under an MIT licence, undercutting OpenAI."
    assert reader_text("> quoted\n> lines") == "quoted lines"


# --- plain text and Markdown files -----------------------------------------------------------------------------

WRAPPED = """---
title: "Fact sheet: chips for allies"
published_time: 2025-01-13 06:00:00-05:00
source_url: https://www.example.gov/fact-sheet
---

# Fact sheet: chips for allies

The Commerce Department today announced a rule that limits exports of
advanced AI chips to countries of concern while easing licences for close
allies of the U.S. government and its partners.
The rule takes effect in 120 days.

- Allies may import up to 50,000 advanced GPUs a year without a licence,
  provided they meet security standards.
- Everyone else needs a licence.
"""


def test_hard_wrapped_markdown_is_rejoined_and_blocks_stay_apart() -> None:
    meta, body = front_matter(WRAPPED)
    assert meta["title"] == "Fact sheet: chips for allies"
    assert front_matter_date(meta) == datetime(2025, 1, 13, 11, 0)  # naive UTC
    text = unwrap(body).strip()
    lines = text.splitlines()
    assert "# Fact sheet: chips for allies" in lines
    assert (
        "The Commerce Department today announced a rule that limits exports of advanced AI chips to countries of "
        "concern while easing licences for close allies of the U.S. government and its partners." in lines
    )
    assert "The rule takes effect in 120 days." in lines
    assert any(line.startswith("- Allies may import") and line.endswith("security standards.") for line in lines)
    assert "- Everyone else needs a licence." in lines


def test_one_paragraph_per_line_text_is_left_alone(shared: Path) -> None:
    text = (shared / "seeds" / "003_437c8fcb4adb72d1.txt").read_text(encoding="utf-8")
    assert unwrap(text) == text


def test_ingested_markdown_file_reads_front_matter_and_whole_sentences(tmp_path: Path) -> None:
    from extract.fetch import MirrorFetcher
    from flows.ingestion import ingest_paths
    from store.db import open_db

    path = tmp_path / "fact-sheet.md"
    path.write_text(WRAPPED, encoding="utf-8")
    con = open_db(tmp_path / "db.duckdb")
    report = ingest_paths(con, [str(path)], MirrorFetcher("https://none.invalid/", tmp_path))
    assert report.new_documents == 1
    title, url, published, text = con.execute("SELECT title, url, published_at, text FROM documents").fetchone()
    assert title == "Fact sheet: chips for allies"
    assert url == "https://www.example.gov/fact-sheet"
    assert published == datetime(2025, 1, 13, 11, 0)
    assert "---" not in text and "source_url" not in text
    sentences = [s.text for s in split_sentences(text)]
    assert any(
        s.startswith("The Commerce Department today announced") and s.endswith("its partners.") for s in sentences
    )
    con.close()


# --- the optional language-model judge over real HTTP ------------------------------------------------------------


class _ChatServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint that answers by a fixed rule: claim when the item names DeepSeek."""

    requests: list[dict] = []  # noqa: RUF012 - shared by the test
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            return
        items = re.findall(r"^(\d+)\. (.*)$", body["messages"][1]["content"], re.MULTILINE)
        answer = {
            "items": [
                {"n": int(n), "claim": "DeepSeek" in t, "actors": ["CN"], "type": "fact", "confidence": 0.77}
                for n, t in items
            ]
        }
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": json.dumps(answer)}}]})
        data = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat_server() -> Iterator[str]:
    _ChatServer.requests = []
    _ChatServer.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


LLM_TEXT = (
    "DeepSeek cut its API prices by half to undercut OpenAI.\n"
    "OpenAI answered with a cheaper reasoning model for developers.\n"
    "Is DeepSeek going to raise prices again?"
)


def test_llm_judge_decides_over_http_with_the_same_contract(chat_server: str) -> None:
    judge = LlmJudge(chat_server, "test-model", api_key="sk-test", batch=1)
    claims = extract_claims("doc", LLM_TEXT, judge=judge)
    judge.close()
    assert [c.text for c in claims] == ["DeepSeek cut its API prices by half to undercut OpenAI."]
    assert claims[0].actors == ("CN",) and claims[0].claim_type == "fact" and claims[0].score == 0.77
    assert len(_ChatServer.requests) == 3  # one per candidate with batch=1; the question is still refused after
    first = _ChatServer.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "test-model" and first["body"]["temperature"] == 0


def test_llm_answers_must_cover_every_item() -> None:
    good = '{"items": [{"n": 1, "claim": true, "actors": ["US", "XX"], "type": "forecast"}, {"n": 2, "claim": false}]}'
    first, second = parse_answer("Here you go: " + good, 2)
    assert first.claim and first.actors == ("US",) and first.claim_type == "forecast"
    assert not second.claim
    with pytest.raises(ValueError):
        parse_answer('{"items": [{"n": 1, "claim": true, "actors": ["CN"]}]}', 2)
    with pytest.raises(ValueError):
        parse_answer("no json here", 1)
    # a claim without a followed actor is not a claim
    (no_actor,) = parse_answer('{"items": [{"n": 1, "claim": true, "actors": []}]}', 1)
    assert not no_actor.claim


def test_claims_stage_falls_back_to_the_local_classifier_when_the_llm_fails(chat_server: str, tmp_path: Path) -> None:
    from flows.stages import claims_stage
    from store.db import open_db

    con = open_db(tmp_path / "db.duckdb")
    for n in (1, 2):
        con.execute(
            "INSERT INTO documents (document_id, kind, title, text, language, content_hash, ingested_at) "
            "VALUES (?, 'article', 't', ?, 'en', ?, now())",
            [f"doc{n}", LLM_TEXT, f"h{n}"],
        )
    _ChatServer.status = 503
    judge = LlmJudge(chat_server, "test-model")
    counts = claims_stage(con, date(2026, 1, 5), None, judge)
    judge.close()
    assert counts["claims_llm_fallbacks"] == 2 and counts["documents_processed"] == 2
    rows = con.execute("SELECT DISTINCT extractor FROM claims").fetchall()
    assert rows == [("local",)]
    assert con.execute("SELECT count(*) FROM documents WHERE processed_for IS NULL").fetchone()[0] == 0
    con.close()


def test_claims_stage_records_the_llm_as_extractor(chat_server: str, tmp_path: Path) -> None:
    from flows.stages import claims_stage
    from store.db import open_db

    con = open_db(tmp_path / "db.duckdb")
    con.execute(
        "INSERT INTO documents (document_id, kind, title, text, language, content_hash, ingested_at) "
        "VALUES ('d', 'article', 't', ?, 'en', 'h', now())",
        [LLM_TEXT],
    )
    judge = LlmJudge(chat_server, "test-model")
    counts = claims_stage(con, date(2026, 1, 5), None, judge)
    judge.close()
    assert counts["claims_llm_fallbacks"] == 0 and counts["claims_extracted"] == 1
    assert con.execute("SELECT extractor FROM claims").fetchall() == [("llm:test-model",)]
    con.close()
