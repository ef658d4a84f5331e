"""Headless Chromium, the way a person's browser sees a page: the DOM after load, a
screenshot. Each call gets a fresh profile directory and no network of its own."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _run(page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (make setup installs it as root)")
    with tempfile.TemporaryDirectory(prefix="pw-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def dump_dom(page: Path) -> str:
    """The serialised DOM after the page loaded."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 1600) -> Path:
    _run(page, f"--screenshot={out}", f"--window-size={width},{height}")
    return out
