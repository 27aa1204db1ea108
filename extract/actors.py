"""A gazetteer of the actors the product follows: countries, governments, companies, models."""

from __future__ import annotations

import re
from dataclasses import dataclass

CN = "CN"
US = "US"

# (pattern, entity, actor). Case-sensitive patterns are marked with (?-i) where needed.
_ENTRIES: list[tuple[str, str, str]] = [
    (
        r"Ministry of Industry and Information Technology|(?-i:MIIT)|Cyberspace Administration|(?-i:CAC)"
        r"|State Council|Communist Party|(?-i:CCP|CPC)|Made in China 2025|Li Qiang|Zhongguancun|(?-i:MOFCOM|NDRC)"
        r"|Ministry of (?:Commerce|Foreign Affairs|Science and Technology)|National Development and Reform Commission",
        "Chinese government",
        CN,
    ),
    (r"China|Chinese|Beijing|PRC|Xi Jinping|Zhongnanhai", "China", CN),
    (r"Deep ?S(?:ee|e)[kq]|High[- ]?Flyer|(?-i:R1|R1-Zero|V3)", "DeepSeek", CN),
    (r"Alibaba|Qwen|Quen|Tongyi", "Alibaba", CN),
    (r"Moonshot|Kimi|Kimmy", "Moonshot", CN),
    (r"Zhipu|Z\.ai|GLM-\d", "Zhipu", CN),
    (r"ByteDance|Doubao|TikTok", "ByteDance", CN),
    (r"Baidu|Ernie", "Baidu", CN),
    (r"Tencent|Hunyuan", "Tencent", CN),
    (r"Huawei|Ascend", "Huawei", CN),
    (r"SMIC", "SMIC", CN),
    (r"MiniMax", "MiniMax", CN),
    (r"iFlytek", "iFlytek", CN),
    (r"(?-i:US|USA)|U\.S\.(?:A\.)?|United States|America|American|Americans", "United States", US),
    (r"Washington|White House|Congress|Commerce Department|Department of Commerce|Pentagon", "US government", US),
    (r"Trump administration|Biden administration|Trump|Biden", "US government", US),
    (r"Silicon Valley", "Silicon Valley", US),
    (r"Open ?AI|Chat ?GPT|GPT(?:-?\d\w*)?|(?-i:o1|o3)", "OpenAI", US),
    (r"Anthropic|Claude", "Anthropic", US),
    (r"Google|Gemini|DeepMind|Alphabet", "Google", US),
    (r"(?-i:Meta)|Llama[- ]?\d*(?:\.\d)?", "Meta", US),
    (r"Microsoft", "Microsoft", US),
    (r"Nvidia|NVIDIA|H20|H100|H200|H800|A100|A800|Blackwell|CUDA|NCCL", "Nvidia", US),
    (r"(?-i:AMD)", "AMD", US),
    (r"(?-i:Intel)", "Intel", US),
    (r"xAI|Grok", "xAI", US),
    (r"Amazon|(?-i:AWS)", "Amazon", US),
    (
        r"Bureau of Industry and Security|(?-i:BIS)|CHIPS Act|Stargate|(?-i:OSTP)|(?-i:NIST)|Senate|Capitol Hill"
        r"|Department of (?:Energy|Defense|War|State)|State Department|National Security Council",
        "US government",
        US,
    ),
    (
        r"Oracle|CoreWeave|Micron|Qualcomm|Broadcom|Cerebras|Groq|Perplexity|Scale AI|Palantir"
        r"|Character[. ]?AI",
        "US industry",
        US,
    ),
    (
        r"Executive Order|Attorney General|Office of Management and Budget|Federal (?:government|agencies|procurement)"
        r"|Secretary of (?:Commerce|State|Energy|Defense|War)|(?-i:AI Action Plan)",
        "US government",
        US,
    ),
    (r"(?-i:TSMC)|Taiwan Semiconductor", "TSMC", ""),
]
# People: (pattern, entity, actor); a person who only speaks in a sentence ("X says ...") is its source,
# not what it is about, when the sentence names other actors.
_PEOPLE: list[tuple[str, str, str]] = [
    (r"Liang Wenfeng|Lian(?:g)? (?:Wen)?f[ae]ng", "DeepSeek", CN),
    (r"Eddie Wu|Joe Tsai|Jack Ma", "Alibaba", CN),
    (r"Yang Zhilin", "Moonshot", CN),
    (r"Robin Li", "Baidu", CN),
    (r"Pony Ma", "Tencent", CN),
    (r"Ren Zhengfei", "Huawei", CN),
    (r"Zhang Yiming|Liang Rubo", "ByteDance", CN),
    (r"(?:Sam )?Altman", "OpenAI", US),
    (r"(?:Dario )?Amodei", "Anthropic", US),
    (r"Jensen(?: Huang)?", "Nvidia", US),
    (r"Sundar Pichai|Demis Hassabis", "Google", US),
    (r"(?:Mark )?Zuckerberg", "Meta", US),
    (r"Satya Nadella", "Microsoft", US),
    (r"Elon Musk|Musk", "xAI", US),
    (
        r"(?:Michael )?Kratsios|(?:David )?Sacks|(?:Howard )?Lutnick|(?:Karoline )?Leavitt|Gina Raimondo"
        r"|Jake Sullivan|Marco Rubio|(?-i:JD Vance|Vance)",
        "US government",
        US,
    ),
]

_COMPILED = [
    (re.compile(r"(?<![\w.])(?:" + p + r")(?![\w])", re.IGNORECASE), e, a, person)
    for person, entries in ((False, _ENTRIES), (True, _PEOPLE))
    for p, e, a in entries
]
_SPEECH_AFTER = re.compile(
    r"^[\s,]*(?:\w+\s+){0,2}?(?:says|said|argues|argued|posits|notes|noted|told|tells|wrote|writes|believes"
    r"|thinks|warned|warns|contends|claims|explains|explained|added|insists|predicts|predicted)\b"
)
_SPEECH_BEFORE = re.compile(r"(?:according to|quoting|per|said|says)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    entity: str
    actor: str  # CN, US, or "" for entities the product names but does not follow (TSMC)
    speaker: bool = False  # a person quoted as the source of the sentence, not its subject


def find_mentions(text: str) -> list[Mention]:
    """Every gazetteer mention in text, in order of appearance."""
    found = [
        Mention(
            m.start(),
            m.end(),
            entity,
            actor,
            person and bool(_SPEECH_AFTER.match(text[m.end() :]) or _SPEECH_BEFORE.search(text[: m.start()])),
        )
        for pattern, entity, actor, person in _COMPILED
        for m in pattern.finditer(text)
    ]
    found.sort(key=lambda m: (m.start, -m.end))
    kept: list[Mention] = []
    for mention in found:  # overlapping matches ("Jensen Huang" and "Jensen"): the longest, first wins
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    return kept


def actors_of(mentions: list[Mention]) -> tuple[str, ...]:
    """The actors a sentence is about: its mentions', leaving out quoted speakers when anything else is named."""
    subjects = [m for m in mentions if m.actor and not m.speaker]
    chosen = subjects or [m for m in mentions if m.actor]
    return tuple(sorted({m.actor for m in chosen}))


def entities_of(mentions: list[Mention]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for m in mentions:
        seen.setdefault(m.entity, None)
    return tuple(seen)


_GENERIC = {CN: "a Chinese firm", US: "a US firm"}
_COUNTRIES = {"China", "United States"}
_JOINER = re.compile(r"['’]s\s+|\s+")


def generalise_actors(text: str) -> str:
    """The text with each named company, model, agency or person replaced by "a Chinese firm" or "a US firm".

    Countries stay, and so do entities the product names but does not follow. "Alibaba's Qwen" becomes one
    "a Chinese firm", not two. The theme encoder trains on such variants beside the originals, so that which lab
    is named weighs less than what is said of it.
    """
    out: list[str] = []
    last = 0
    previous: str | None = None
    for mention in find_mentions(text):
        if mention.entity in _COUNTRIES or not mention.actor:
            continue
        word = _GENERIC[mention.actor]
        gap = text[last : mention.start]
        if not (previous == word and _JOINER.fullmatch(gap)):
            out += [gap, word]
        last, previous = mention.end, word
    out.append(text[last:])
    return "".join(out)
