"""A gazetteer of the actors the product follows: countries, governments, companies, models."""

from __future__ import annotations

import re
from dataclasses import dataclass

CN = "CN"
US = "US"

# (pattern, entity, actor). Case-sensitive patterns are marked with (?-i) where needed.
_ENTRIES: list[tuple[str, str, str]] = [
    (r"China|Chinese|Beijing|PRC|Xi Jinping|Zhongnanhai", "China", CN),
    (r"DeepSeek", "DeepSeek", CN),
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
    (r"OpenAI|ChatGPT|GPT-\d\w*", "OpenAI", US),
    (r"Anthropic|Claude", "Anthropic", US),
    (r"Google|Gemini|DeepMind|Alphabet", "Google", US),
    (r"(?-i:Meta)|Llama", "Meta", US),
    (r"Microsoft", "Microsoft", US),
    (r"Nvidia|NVIDIA|H20|H100|H200|Blackwell", "Nvidia", US),
    (r"(?-i:AMD)", "AMD", US),
    (r"(?-i:Intel)", "Intel", US),
    (r"xAI|Grok", "xAI", US),
    (r"Amazon|(?-i:AWS)", "Amazon", US),
]

_COMPILED = [(re.compile(r"(?<![\w.])(?:" + p + r")(?![\w])", re.IGNORECASE), e, a) for p, e, a in _ENTRIES]


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    entity: str
    actor: str


def find_mentions(text: str) -> list[Mention]:
    """Every gazetteer mention in text, in order of appearance."""
    found = [
        Mention(m.start(), m.end(), entity, actor)
        for pattern, entity, actor in _COMPILED
        for m in pattern.finditer(text)
    ]
    return sorted(found, key=lambda m: (m.start, m.end))


def actors_of(mentions: list[Mention]) -> tuple[str, ...]:
    return tuple(sorted({m.actor for m in mentions}))


def entities_of(mentions: list[Mention]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for m in mentions:
        seen.setdefault(m.entity, None)
    return tuple(seen)
