"""Reading the sources file (TOML, YAML, or OPML) and importing OPML subscriptions into it."""

from __future__ import annotations

from pathlib import Path

from core.errors import UserError
from core.models import Source
from extract.sources import parse_opml, parse_sources, to_toml


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


def load_sources_file(path: Path | None) -> list[Source]:
    """The configured feeds; the format follows the file name (.toml, .yaml/.yml, .opml)."""
    if path is None:
        return []
    data = _read(path)
    suffix = path.suffix.lower()
    if suffix == ".opml":
        text = to_toml(parse_opml(data, origin=str(path)))
        return parse_sources(text, str(path))
    fmt = "yaml" if suffix in (".yaml", ".yml") else "toml"
    return parse_sources(data.decode("utf-8-sig", errors="replace"), str(path), fmt)


def import_opml(opml: Path, sources: Path, kind: str) -> tuple[int, int]:
    """Append the OPML's feeds to a TOML sources file (created if missing); returns (added, already there)."""
    if sources.suffix.lower() in (".yaml", ".yml", ".opml"):
        raise UserError(f"import writes TOML; {sources} is not a .toml file")
    entries = parse_opml(_read(opml), kind=kind, origin=str(opml))
    existing = load_sources_file(sources) if sources.exists() else []
    known = {s.url for s in existing}
    new = [e for e in entries if e["url"] not in known]
    if new:
        current = sources.read_text(encoding="utf-8") if sources.exists() else ""
        separator = "\n" if current and not current.endswith("\n\n") else ""
        updated = current + separator + to_toml(new)
        parse_sources(updated, str(sources))  # check the result before anything is written
        temporary = sources.with_name(sources.name + ".tmp")
        try:
            temporary.write_text(updated, encoding="utf-8")
            temporary.replace(sources)
        except OSError as exc:
            raise UserError(f"cannot write {sources}: {exc.strerror}") from None
    return len(new), len(entries) - len(new)
