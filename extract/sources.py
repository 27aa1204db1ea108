"""The sources file: a TOML array of [[sources]] tables."""

from __future__ import annotations

import tomllib

from core.errors import UserError
from core.ids import stable_id
from core.models import Source

KINDS = ("news", "podcast")


def source_id_for(url: str) -> str:
    return stable_id("src", url.strip())


def parse_sources(text: str, origin: str = "sources file") -> list[Source]:
    """Validate and convert the sources file; every mistake names the entry it is in."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{origin} is not valid TOML: {exc}") from None
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
        if not url.startswith(("http://", "https://")):
            raise UserError(f"{where}: url must start with http:// or https://")
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
