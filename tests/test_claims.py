"""The first claim filter on the real seed documents and on small written cases."""

from __future__ import annotations

from pathlib import Path

from extract.claims import extract_claims
from extract.sentences import split_sentences


def _claims_of(path: Path) -> list:
    text = path.read_text(encoding="utf-8")
    return extract_claims("doc", text)


def test_sentences_keep_offsets_and_abbreviations() -> None:
    text = "The U.S. Commerce Department acted. Dr. Li disagreed!\nA new paragraph"
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "The U.S. Commerce Department acted.",
        "Dr. Li disagreed!",
        "A new paragraph",
    ]
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_seed_article_furniture_and_off_topic_teasers_are_refused(shared: Path) -> None:
    claims = _claims_of(shared / "seeds" / "000_ca840be5131ca0b3.txt")
    texts = [c.text for c in claims]
    assert len(claims) >= 8
    for junk in (
        "Sign in to join the conversation",
        "AI-generated",
        "smuggling",
        "underwater drone",
        "Share your thoughts",
        "paramount leader",
    ):
        assert not any(junk in t for t in texts), junk


def test_anaphoric_claim_inherits_actors_from_previous_sentence(shared: Path) -> None:
    claims = _claims_of(shared / "seeds" / "000_ca840be5131ca0b3.txt")
    end_run = [c for c in claims if c.text.startswith("This approach also serves as an end-run")]
    assert len(end_run) == 1
    assert set(end_run[0].actors) == {"CN", "US"}


def test_quotes_are_exact_spans(shared: Path) -> None:
    text = (shared / "seeds" / "002_2a1162cb6719bb60.txt").read_text(encoding="utf-8")
    claims = extract_claims("doc", text)
    assert claims
    for claim in claims:
        assert text[claim.start_char : claim.end_char] == claim.quote
        assert claim.actors and set(claim.actors) <= {"CN", "US"}
        assert claim.claim_type in {"thesis", "fact", "forecast", "recommendation"}
        assert 0 < claim.score <= 1


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


def test_claim_types() -> None:
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
