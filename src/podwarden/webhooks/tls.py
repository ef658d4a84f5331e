"""The serving certificate, reloaded when its files change (cert-manager rotates them).

`ssl.SSLContext.load_cert_chain` on the live context changes what every later
handshake presents, while connections already open keep their session; so the
listener never restarts. A new pair is first loaded into a scratch context: a
half-written or mismatched pair is logged and the old certificate kept, since
serving nothing would fail every admission request in the cluster.
Each loaded certificate's notAfter goes to `on_load` (the webhook's expiry gauge), so
an alert fires before a certificate that is not being renewed runs out.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

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

    def __init__(
        self, cert: Path, key: Path, *, on_load: Callable[[float], None] | None = None
    ) -> None:
        self.cert = cert
        self.key = key
        self._on_load = on_load
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])
        try:
            self.context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: not usable: {exc}") from None
        self._seen = _signature(cert, key)
        self.reloads = 0
        self._loaded()

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
        self._loaded()
        return True

    def not_after(self) -> float:
        """The serving certificate's end of validity (Unix time), read from the file."""
        leaf = x509.load_pem_x509_certificate(self.cert.read_bytes())
        return leaf.not_valid_after_utc.timestamp()

    def _loaded(self) -> None:
        if self._on_load is None:
            return
        try:
            self._on_load(self.not_after())
        except (OSError, ValueError) as exc:  # the pair loaded, so this is a race: next poll
            _log.warning("certificate expiry not read", error=str(exc))

    async def follow(self, *, poll_interval: float = 1.0) -> None:
        """Poll the files until cancelled."""
        while True:
            await asyncio.sleep(poll_interval)
            self.check()
