"""The serving certificate, reloaded when its files change (cert-manager rotates them).

`ssl.SSLContext.load_cert_chain` on the live context changes what every later
handshake presents, while connections already open keep their session; so the
listener never restarts. A new pair is first loaded into a scratch context: a
half-written or mismatched pair is logged and the old certificate kept, since
serving nothing would fail every admission request in the cluster.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

from podwarden import logs
from podwarden.config import ConfigError

_log = logs.get("webhooks.tls")


def _signature(*paths: Path) -> tuple[tuple[int, int, int], ...] | None:
    try:
        return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in (os.stat(p) for p in paths))
    except OSError:
        return None


class ReloadingContext:
    """A server SSLContext whose certificate follows `cert` and `key` on disk."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])
        try:
            self.context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: not usable: {exc}") from None
        self._seen = _signature(cert, key)
        self.reloads = 0

    def check(self) -> bool:
        """Reload when the files changed and the new pair is valid; True when reloaded."""
        current = _signature(self.cert, self.key)
        if current is None or current == self._seen:
            return False
        scratch = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            scratch.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            # Maybe mid-rotation (cert written, key not yet): try again next poll.
            _log.warning("new certificate not loaded yet; keeping the old one", error=str(exc))
            return False
        self.context.load_cert_chain(self.cert, self.key)
        self._seen = current
        self.reloads += 1
        _log.info("serving certificate reloaded", cert=str(self.cert))
        return True

    async def follow(self, *, poll_interval: float = 1.0) -> None:
        """Poll the files until cancelled."""
        while True:
            await asyncio.sleep(poll_interval)
            self.check()
