"""The brief as subscribers see it: the email's HTML opened in a real headless browser (Debian's chromium) at
phone and desktop widths, light and dark. Screenshots are written to build/screenshots/; the test fails on
horizontal overflow, text below WCAG AA contrast (4.5:1) or images without alt text."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from digest.mail import build_message
from digest.render import Rendered
from flows.demo import SAMPLE_DATE

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
MIN_CONTRAST = 4.5

# Measures the page inside the frame once it has loaded, and writes the result into the outer page's title.
PROBE = """
<script>
function lum(c) {
  const v = c.match(/[\\d.]+/g).map(Number).slice(0, 3).map(x => { x /= 255;
    return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function alpha(c) { const m = c.match(/[\\d.]+/g); return m.length > 3 ? Number(m[3]) : 1; }
window.addEventListener('load', () => {
  const frame = document.getElementById('page');
  const win = frame.contentWindow, doc = frame.contentDocument;
  const background = el => { for (let e = el; e; e = e.parentElement) {
    const c = win.getComputedStyle(e).backgroundColor; if (alpha(c) > 0) return c; } return 'rgb(255, 255, 255)'; };
  let worst = 99, where = '';
  for (const el of doc.body.querySelectorAll('*')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = win.getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const a = lum(style.color), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst) { worst = ratio; where = el.tagName + ' ' + el.textContent.trim().slice(0, 40); }
  }
  document.title = JSON.stringify({
    width: win.innerWidth, overflow: doc.documentElement.scrollWidth - win.innerWidth,
    contrast: worst, where: where, images_without_alt: [...doc.images].filter(i => !i.hasAttribute('alt')).length,
    dark: win.matchMedia('(prefers-color-scheme: dark)').matches, links: doc.links.length });
});
</script>
"""


def _browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "chromium is missing: install Debian's 'chromium' package (python3 bootstrap.py test does, as root)"
        )
    return found


def _email_html(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT subject, html, markdown, text FROM digests WHERE digest_date = ?", [SAMPLE_DATE]
        ).fetchone()
    message = build_message(
        Rendered(*row),
        SAMPLE_DATE,
        "Undercurrent <brief@example.org>",
        "reader@example.com",
        "sub_1",
        "https://brief.example.org/unsubscribe?t=token",
    )
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_content()


def _open(browser: str, page: str, width: int, dark: bool, folder: Path, name: str) -> dict:
    wrapper = folder / f"{name}.html"
    wrapper.write_text(
        "<!doctype html><html><head><title>pending</title></head><body style='margin:0'>"
        f"<iframe id=page style='width:{width}px;height:4000px;border:0' srcdoc=\"{html.escape(page, quote=True)}\">"
        f"</iframe>{PROBE}</body></html>",
        encoding="utf-8",
    )
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--hide-scrollbars",
        f"--window-size={max(width, 800)},2400",
        "--virtual-time-budget=3000",
    ]
    if dark:
        flags.append("--force-dark-mode")
    dom = subprocess.run([*flags, "--dump-dom", wrapper.as_uri()], capture_output=True, text=True, timeout=120).stdout
    subprocess.run(
        [*flags, f"--screenshot={folder / (name + '.png')}", wrapper.as_uri()], capture_output=True, timeout=120
    )
    found = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert found and found.group(1) != "pending", dom[:500]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width", [375, 800])
def test_the_brief_reads_well_on_a_phone_and_a_desktop(sample_db: Path, width: int, dark: bool) -> None:
    browser = _browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = f"brief-{width}px-{'dark' if dark else 'light'}"
    result = _open(browser, _email_html(sample_db), width, dark, SCREENSHOTS, name)
    assert result["width"] == width and result["dark"] == dark
    assert result["overflow"] <= 0, f"the brief is {result['overflow']} px wider than a {width} px screen"
    assert result["contrast"] >= MIN_CONTRAST, f"contrast {result['contrast']:.2f} at {result['where']}"
    assert result["images_without_alt"] == 0
    assert result["links"] >= 10  # every item links its sources, plus the unsubscribe link
    screenshot = SCREENSHOTS / f"{name}.png"
    assert screenshot.exists() and screenshot.stat().st_size > 10_000
