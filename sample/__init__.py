"""Invented sample corpus bundled with Undercurrent (fictional outlets; not real news)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
SITE = ROOT / "site"
SOURCES = ROOT / "sources.toml"
BASE_URL = "https://sample.undercurrent.invalid/"
