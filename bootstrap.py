#!/usr/bin/env python3
"""Set up Undercurrent in ./.venv (only when something changed) and run it.

    python3 bootstrap.py demo [ARGS...]   install, then run 'undercurrent demo' on the bundled sample
    python3 bootstrap.py test [ARGS...]   install with test tools (and chromium, as root on Debian), then ruff and
                                          the test suite (pytest ARGS)
    python3 bootstrap.py setup            install only

Needs nothing but Python >= 3.11 with venv and pip. Re-running is fast: the install is skipped while
pyproject.toml and constraints.txt are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".undercurrent-install"


def _fingerprint(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"bootstrap: '{' '.join(command[:4])} ...' failed with exit code {result.returncode}")


def ensure_installed(extras: str) -> None:
    wanted = _fingerprint(extras)
    have = STAMP.read_text().split() if STAMP.exists() else []
    # A test install (a superset) also serves the demo, as long as the pins are unchanged.
    acceptable = {wanted, _fingerprint("test")} if extras == "" else {wanted}
    if acceptable & set(have) and (BIN / "undercurrent").exists():
        return
    if not (BIN / "python").exists():
        print("bootstrap: creating .venv", file=sys.stderr)
        _run([sys.executable, "-m", "venv", str(VENV)])
    print("bootstrap: installing Undercurrent and its pinned dependencies (first time: a few minutes)", file=sys.stderr)
    target = f".[{extras}]" if extras else "."
    _run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            "constraints.txt",
            "-e",
            target,
        ]
    )
    STAMP.write_text(wanted + "\n")


def ensure_browser() -> None:
    """The rendering test opens the brief in Debian's headless chromium: install it when it is missing and we
    may (root on a Debian-like system); otherwise say how, and let that test report it."""
    import shutil

    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("bootstrap: installing chromium for the rendering test", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        ):
            if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
                break
        return
    print("bootstrap: chromium is missing; install Debian's 'chromium' package for the rendering test", file=sys.stderr)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "setup"):
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if command == "test":
        ensure_installed("test")
        ensure_browser()
        _run([str(BIN / "ruff"), "check", "."])
        return subprocess.run([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT).returncode
    ensure_installed("")
    if command == "setup":
        return 0
    return subprocess.run([str(BIN / "undercurrent"), "demo", *rest]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
