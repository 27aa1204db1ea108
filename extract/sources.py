"""The sources file: a TOML array of [[sources]] tables (or the same in YAML), and OPML import."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from typing import Any

import yaml

from core.errors import UserError
from core.ids import stable_id
from core.models import Source
from extract.feeds import declares_entities

KINDS = ("news", "podcast")


def source_id_for(url: str) -> str:
    return stable_id("src", url.strip())


def _load(text: str, origin: str, fmt: str) -> Any:
    if fmt == "yaml":
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"{origin} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{origin} is not valid TOML: {exc}") from None


def parse_sources(text: str, origin: str = "sources file", fmt: str = "toml") -> list[Source]:
    """Validate and convert the sources file (``fmt`` toml or yaml); every mistake names its entry."""
    data = _load(text, origin, fmt)
    if not isinstance(data, dict):
        raise UserError(f"{origin}: expected a 'sources' list at the top level")
    entries = data.get("sources", [])
    if not isinstance(entries, list):
        raise UserError(f"{origin}: 'sources' must be an array of [[sources]] tables")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        where = f"{origin}, source #{index}"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: must be a table")
        for key in ("name", "kind", "url"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise UserError(f"{where}: missing '{key}'")
        if entry["kind"] not in KINDS:
            raise UserError(f"{where}: kind must be 'news' or 'podcast', not {entry['kind']!r}")
        url = entry["url"].strip()
        if not url.startswith(("http://", "https://")) or any(ch.isspace() or not ch.isprintable() for ch in url):
            raise UserError(f"{where}: url must be an http:// or https:// URL without spaces or control characters")
        if url in seen:
            raise UserError(f"{where}: url {url} is listed twice")
        seen.add(url)
        state = entry.get("state_affiliated")
        if state is not None and not isinstance(state, bool):
            raise UserError(f"{where}: state_affiliated must be true or false")
        sources.append(
            Source(
                source_id=source_id_for(url),
                name=entry["name"].strip(),
                kind=entry["kind"],
                url=url,
                country=entry.get("country"),
                owner=entry.get("owner"),
                state_affiliated=state,
            )
        )
    return sources


def parse_opml(data: bytes, kind: str = "news", origin: str = "OPML file") -> list[dict[str, Any]]:
    """Feed entries (name, kind, url) of every outline with an xmlUrl, in document order, without repeats."""
    if declares_entities(data):
        raise UserError(f"{origin} declares XML entities; refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise UserError(f"{origin} is not valid OPML: {exc}") from None
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url.startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        name = (outline.get("title") or outline.get("text") or url).strip()
        entry_kind = "podcast" if (outline.get("type") or "").lower() == "podcast" else kind
        found.append({"name": name, "kind": entry_kind, "url": url})
    return found


def to_toml(entries: list[dict[str, Any]]) -> str:
    """[[sources]] tables for the given entries (strings quoted as TOML basic strings)."""
    blocks = []
    for entry in entries:
        lines = ["[[sources]]"]
        for key, value in entry.items():
            if value is None:
                continue
            clean = "".join(ch if ch.isprintable() else " " for ch in str(value))
            text = json.dumps(clean, ensure_ascii=False)  # a TOML basic string: quotes and backslashes escaped
            rendered = ("true" if value else "false") if isinstance(value, bool) else text
            lines.append(f"{key} = {rendered}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
