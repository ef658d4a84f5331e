"""Settings of one running metadata proxy, validated once at start.

The command line, the lab and the tests all build a `ProxySettings`; nothing
below `proxy.start` reads flags or the environment, so a test can run several
proxies side by side with different settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from podwarden.config import ConfigError
from podwarden.metadata.model import ProviderName


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """Everything the proxy needs to serve one provider in front of one upstream.

    `listen_port` 0 picks a free port (tests read `RunningProxy.port`);
    `metrics_host` None runs no metrics listener. Timeouts are seconds.
    """

    provider: ProviderName
    upstream_url: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    policy_file: Path | None = None
    metrics_host: str | None = None
    metrics_port: int = 0
    upstream_timeout: float = 5.0
    upstream_connect_timeout: float = 1.0
    long_poll_timeout: float = 330.0
    upstream_pool_size: int = 64  # ordinary requests; long-polls never take these connections
    long_poll_pool_size: int = 32  # GCE wait_for_change requests upstream at once, all clients
    long_polls_per_client: int = 4  # ... from one client address at once
    drain_timeout: float = 10.0
    cache_max_entries: int = 4096
    verdict_memo_entries: int = 2048
    token_key_file: Path | None = None  # IMDSv2 token key (tokens.py); None: random per process
    max_body_bytes: int = 65536
    idle_timeout: float = 75.0  # keep-alive connections silent this long are closed
    header_timeout: float = 10.0  # a request not whole this long after it began is dropped
    max_connections: int = 4096  # client connections served at once; more get 503 and close
    max_connections_per_client: int = 256  # from one client address at once

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(
                f"upstream: {self.upstream_url!r} is not usable; "
                "expected http://HOST[:PORT] (the metadata service speaks plain HTTP)"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(f"upstream: {self.upstream_url!r} must not carry a path or query")
        for name in (
            "upstream_timeout",
            "upstream_connect_timeout",
            "drain_timeout",
            "idle_timeout",
            "header_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        for name in (
            "upstream_pool_size",
            "cache_max_entries",
            "verdict_memo_entries",
            "long_poll_pool_size",
            "long_polls_per_client",
            "max_connections",
            "max_connections_per_client",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")

    @property
    def upstream_base(self) -> str:
        """The upstream URL without a trailing slash, ready to prefix a target."""
        return self.upstream_url.rstrip("/")


def parse_host_port(value: str, *, option: str) -> tuple[str, int]:
    """Split `HOST:PORT` (or `[V6]:PORT`) into its parts, naming `option` on error."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{option}: {value!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{option}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option}: port {port} is outside 0-65535")
    return host, port
