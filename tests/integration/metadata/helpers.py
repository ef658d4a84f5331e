"""Small helpers shared by the proxy's integration tests."""

from __future__ import annotations

import yarl

from podwarden.lab.cloud import secrets


def url(port: int, target: str) -> yarl.URL:
    """A loopback URL sent byte for byte (aiohttp would otherwise resolve %2e%2e and //)."""
    return yarl.URL(f"http://127.0.0.1:{port}{target}", encoded=True)


def leaked(body: str) -> list[str]:
    """Every emulator secret that appears in `body` (should be none)."""
    return [value for value in secrets.ALL if value and value in body]
