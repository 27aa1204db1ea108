"""Benchmark: ingesting article pages from loopback servers, with the per-host politeness limit on and off.

Run from the repository root:

    .venv/bin/python bench/ingest_pages.py                # 1,000 pages on 10 hosts, 3 runs per mode
    .venv/bin/python bench/ingest_pages.py --help         # every option
    .venv/bin/python bench/ingest_pages.py --pages 200 --repeat 1   # a quick look

What it does:
- builds ``--pages`` distinct article pages in a temporary folder from the bundled sample pages
  (``sample/site/news/*/*.html``), each with a paragraph of its own so no two pages are identical;
- serves them from ``--hosts`` HTTP servers, one per loopback address 127.0.0.2, 127.0.0.3, … (all of
  127.0.0.0/8 is loopback on Linux), each with an RSS feed listing its pages (guid, pubDate) and an
  artificial ``--latency-ms`` per request;
- for each mode runs ``flows.polling.poll_sources`` over those feeds into a fresh DuckDB file with
  ``HttpFetcher(allow_private="127.0.0.0/8", limiter=...)`` and ``workers=--workers``:
    on:  ``HostLimiter(per_host=--per-host, delay=--delay)``  (politeness as in production: by default the
         fetcher's own limits, 2 connections per host and its delay between requests to one host)
    off: ``HostLimiter(per_host=0)``                         (no limit)
- every measured run is a fresh child process (this script with ``--child``), so its peak memory is its own:
  the child reports its resident memory before ingesting (after imports, database and fetcher are ready)
  and its peak at the end. The peak is the process's high-water mark (``VmHWM`` in /proc/self/status);
  ``ru_maxrss`` is reported too, but on Linux it survives exec and so can show the parent's size instead.

Nothing leaves the machine: every URL is on 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable without installing it
    sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 21, 8, 0)
MODES = ("on", "off")
_WORDS = (
    "harbour ledger meridian policy compute lattice tariff orbit signal cobalt archive ferry quarry lantern "
    "summit delta prism canal beacon granite willow sparrow ember meadow"
).split()
_TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/rss+xml"}


# The site --------------------------------------------------------------------------------------------------


def host_address(index: int) -> str:
    """127.0.0.2 for host 0, 127.0.0.3 for host 1, …"""
    number = index + 2
    return f"127.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"


def build_site(folder: Path, pages: int, hosts: int) -> list[Path]:
    """Write ``pages`` distinct pages spread over ``hosts`` folders; returns each host's folder."""
    import sample

    templates = sorted(sample.SITE.glob("news/*/*.html"))
    if not templates:
        raise SystemExit(f"no sample pages under {sample.SITE / 'news'}")
    rng = random.Random(20261121)
    roots = []
    for h in range(hosts):
        root = folder / f"host{h}"
        root.mkdir(parents=True)
        roots.append(root)
    for n in range(pages):
        html = templates[n % len(templates)].read_text(encoding="utf-8")
        words = " ".join(rng.choice(_WORDS) for _ in range(12))
        paragraph = f"<p>Benchmark copy {n + 1} of {pages}: this paragraph makes page {n + 1} unique ({words}).</p>\n"
        html = html.replace("</article>", paragraph + "</article>", 1)
        (roots[n % hosts] / f"page-{n + 1:05d}.html").write_text(html, encoding="utf-8")
    return roots


def write_feed(root: Path, base: str) -> None:
    items = []
    for i, page in enumerate(sorted(root.glob("page-*.html"))):
        published = format_datetime((NOW - timedelta(minutes=5 * i + 1)).replace(tzinfo=UTC), usegmt=True)
        items.append(
            f"<item><title>{escape(page.stem)}</title><link>{base}/{page.name}</link>"
            f'<guid isPermaLink="false">{escape(base)}/{page.stem}</guid><pubDate>{published}</pubDate>'
            f"<description>{escape(page.stem)}</description></item>"
        )
    (root / "feed.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench {base}</title>'
        f"<link>{base}/</link>{''.join(items)}</channel></rss>",
        encoding="utf-8",
    )


class _Handler(BaseHTTPRequestHandler):
    """Files under the server's root by URL path, after the artificial latency; 404 for anything else."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: _SiteServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.server.latency:
            time.sleep(self.server.latency)
        path = (self.server.root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
        if not path.is_relative_to(self.server.root) or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", _TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: str, root: Path, latency: float) -> None:
        super().__init__((address, 0), _Handler)
        self.root = root.resolve()
        self.latency = latency


@contextmanager
def serving(address: str, root: Path, latency: float) -> Iterator[str]:
    server = _SiteServer(address, root, latency)
    thread = threading.Thread(target=server.serve_forever, name=f"serve-{address}", daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# The measured child ----------------------------------------------------------------------------------------


def _memory_kib() -> tuple[int | None, int | None]:
    """(current RSS, peak RSS) of this process in KiB from /proc/self/status, or Nones off Linux."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None, None
    values = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0])
    return values.get("VmRSS"), values.get("VmHWM")


def run_child(mode: str, plan_path: Path) -> dict:
    """One measured ingest, in this (fresh) process; returns what the parent tabulates."""
    from core.models import Source
    from extract.fetch import HostLimiter, HttpFetcher
    from flows.polling import poll_sources
    from store.db import open_db

    plan = json.loads(plan_path.read_text())
    limiter = HostLimiter(per_host=plan["per_host"], delay=plan["delay"]) if mode == "on" else HostLimiter(per_host=0)
    sources = [Source(f"bench{i}", f"Bench host {i}", "news", url) for i, url in enumerate(plan["feeds"])]
    con = open_db(Path(plan["db"]))
    with HttpFetcher(allow_private="127.0.0.0/8", limiter=limiter) as fetcher:
        rss_before, _ = _memory_kib()
        started = time.perf_counter()
        report = poll_sources(con, sources, fetcher, NOW, workers=plan["workers"])
        seconds = time.perf_counter() - started
    stored = con.execute("SELECT count(*) FROM documents WHERE extraction = 'page'").fetchone()[0]
    con.close()
    rss_after, peak = _memory_kib()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "mode": mode,
        "seconds": seconds,
        "new_documents": report.new_documents,
        "from_pages": stored,
        "errors": len(report.errors),
        "first_error": report.errors[0] if report.errors else None,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "peak_kib": peak if peak is not None else maxrss,
        "ru_maxrss_kib": maxrss,
    }


# The parent ------------------------------------------------------------------------------------------------


def measure(mode: str, run: int, plan: dict, work: Path, timeout: float) -> dict:
    plan = {**plan, "db": str(work / f"{mode}-{run}.duckdb")}
    plan_path = work / f"plan-{mode}-{run}.json"
    plan_path.write_text(json.dumps(plan))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--plan", str(plan_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"child run {mode}#{run} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    Path(plan["db"]).unlink(missing_ok=True)
    return result


def _mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def print_table(results: dict[str, list[dict]], pages: int, args: argparse.Namespace) -> None:
    rows, summary = [], {}
    for mode, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rate = statistics.median(pages / r["seconds"] for r in runs)
        before = statistics.median(r["rss_before_kib"] or 0 for r in runs)
        peak = statistics.median(r["peak_kib"] for r in runs)
        summary[mode] = (rate, peak)
        limit = f"per_host={args.per_host}, delay={args.delay:g}s" if mode == "on" else "per_host=0 (none)"
        rows.append(
            (
                mode,
                limit,
                str(len(runs)),
                f"{seconds:.1f}",
                f"{rate:.1f}",
                _mib(before),
                _mib(peak),
                _mib(peak - before),
            )
        )
    header = ("limit", "HostLimiter", "runs", "median s", "pages/s", "RSS before MiB", "peak RSS MiB", "delta MiB")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "+".join("-" * (w + 2) for w in widths)
    print()
    print(
        f"Ingesting {pages} pages from {args.hosts} loopback hosts ({args.latency_ms:g} ms per request), "
        f"workers={args.workers}; medians of {args.repeat} run(s) per mode"
    )
    print(line)
    for row in [header, *rows]:
        print(" " + " | ".join(str(cell).rjust(w) for cell, w in zip(row, widths, strict=True)))
        if row is header:
            print(line)
    print(line)
    if "on" in summary and "off" in summary:
        (on_rate, on_peak), (off_rate, off_peak) = summary["on"], summary["off"]
        slower = off_rate / on_rate
        print(f"ratio on/off: pages/s {on_rate / off_rate:.3f} (ingesting is {slower:.1f}x slower with the limit)")
        print(f"              peak RSS {on_peak / off_peak:.3f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from extract.fetch import HostLimiter

    parser = argparse.ArgumentParser(
        description=(
            "Measure ingesting article pages (fetch, extract, store) from loopback HTTP servers with the "
            "per-host politeness limit on and off: pages/s and peak memory, each run in a fresh process."
        ),
        epilog="Example: .venv/bin/python bench/ingest_pages.py --pages 1000 --hosts 10 --repeat 3",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--pages", type=int, default=1000, help="article pages to generate and ingest")
    parser.add_argument("--hosts", type=int, default=10, help="loopback hosts (127.0.0.2, …) to spread pages over")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per mode (the median is reported)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="artificial server latency per request")
    parser.add_argument("--workers", type=int, default=8, help="parallel page fetches per feed (poll_sources)")
    parser.add_argument("--per-host", type=int, default=2, help="limit on: requests in flight per host")
    parser.add_argument(
        "--delay",
        type=float,
        default=HostLimiter().delay,
        help="limit on: seconds between request starts to one host (default: the fetcher's own). Feeds are "
        "fetched in parallel, so a limited run takes about (pages per host) x delay seconds",
    )
    parser.add_argument("--modes", default="on,off", help="which modes to run, comma-separated (on, off)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a child run is abandoned")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pages < 1 or args.hosts < 1 or args.repeat < 1 or args.hosts > 250:
        parser.error("--pages, --hosts and --repeat must be at least 1, and --hosts at most 250")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        parser.error("--modes takes on, off or on,off")
    args.mode_list = modes
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, args.plan)))
        return
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        roots = build_site(work / "site", args.pages, args.hosts)
        feeds = []
        for h, root in enumerate(roots):
            base = stack.enter_context(serving(host_address(h), root, args.latency_ms / 1000))
            write_feed(root, base)
            feeds.append(f"{base}/feed.xml")
        plan = {"feeds": feeds, "per_host": args.per_host, "delay": args.delay, "workers": args.workers}
        print(
            f"{args.pages} pages on {len(feeds)} hosts ({feeds[0].rsplit('/', 1)[0]} … "
            f"{feeds[-1].rsplit('/', 1)[0]}), {args.repeat} run(s) per mode"
        )
        results: dict[str, list[dict]] = {mode: [] for mode in args.mode_list}
        for run in range(args.repeat):
            for mode in args.mode_list:  # interleaved, so drift on the machine touches both modes alike
                r = measure(mode, run, plan, work, args.timeout)
                results[mode].append(r)
                problem = f"; {r['errors']} errors, first: {r['first_error']}" if r["errors"] else ""
                rate = args.pages / r["seconds"]
                print(
                    f"  run {run + 1} limit {mode:>3}: {r['seconds']:7.1f} s {rate:7.1f} pages/s, stored "
                    f"{r['new_documents']} ({r['from_pages']} from pages), RSS before {_mib(r['rss_before_kib'])} MiB, "
                    f"peak {_mib(r['peak_kib'])} MiB (ru_maxrss {_mib(r['ru_maxrss_kib'])}){problem}",
                    flush=True,
                )
    print_table(results, args.pages, args)


if __name__ == "__main__":
    main()
