"""Settings of one running metadata proxy, validated once at start.

The command line, the lab and the tests all build a `ProxySettings`; nothing
below `proxy.start` reads flags or the environment, so a test can run several
proxies side by side with different settings. `ProxyConfig` declares the flags
of `podwarden proxy` (and `ProxyBase` those the agent shares, also as its
`--config` keys); `podwarden.flags` turns the fields into click options.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from podwarden import config
from podwarden.config import ConfigError
from podwarden.metadata.model import ProviderName

LogLevel = Literal["debug", "info", "warning", "error"]


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
    token_key_file: Path | None = None  # IMDSv2 key (imdsv2_tokens.py); None: random
    max_body_bytes: int = 65536
    idle_timeout: float = 75.0  # keep-alive connections silent this long are closed
    header_timeout: float = 10.0  # a request not whole this long after it began is dropped
    max_connections: int = 4096  # client connections served at once; more get 503 and close
    max_connections_per_client: int = 256  # from one client address at once

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(
                f"{self.upstream_url!r} is not usable; "
                "expected http://HOST[:PORT] (the metadata service speaks plain HTTP)",
                key="upstream",
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(
                f"{self.upstream_url!r} must not carry a path or query", key="upstream"
            )
        for name in (
            "upstream_timeout",
            "upstream_connect_timeout",
            "drain_timeout",
            "idle_timeout",
            "header_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"must be > 0, got {getattr(self, name)}", key=name)
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
                raise ConfigError(f"must be >= 1, got {getattr(self, name)}", key=name)

    @property
    def upstream_base(self) -> str:
        """The upstream URL without a trailing slash, ready to prefix a target."""
        return self.upstream_url.rstrip("/")


# The running proxy's defaults are the flags' defaults: declared once, in ProxySettings.
_DEFAULT: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(ProxySettings)}


class ProxyBase(BaseModel):
    """The proxy settings `podwarden proxy` and `podwarden agent` share."""

    model_config = ConfigDict(extra="forbid")

    upstream: str | None = Field(
        None, description="The metadata service, e.g. http://169.254.169.254"
    )
    listen: str | None = Field(
        None,
        description="HOST:PORT the proxy serves pods on (for the agent, where pods are "
        "redirected: a node address or 127.0.0.1).",
    )
    policy: Path | None = Field(
        None, description="YAML rules that extend or replace the provider's strict preset."
    )
    metrics_listen: str | None = Field(
        None, description="HOST:PORT for the proxy's /metrics, /healthz, /readyz."
    )
    log_level: LogLevel = "info"
    token_key_file: Path | None = Field(
        None,
        description="Key for the IMDSv2 tokens the proxy issues (created 0600 if missing); "
        "with it, tokens survive a restart.",
    )

    def proxy_settings(
        self, provider: ProviderName, *, listen: str, metrics: bool = True, **tuning: Any
    ) -> ProxySettings:
        """The running proxy's settings for `listen` (with the metrics listener or not)."""
        if self.upstream is None:
            raise ConfigError("required (--upstream)", key="upstream")
        host, port = config.host_port(listen, key="listen")
        metrics_host, metrics_port = None, 0
        if metrics and self.metrics_listen:
            metrics_host, metrics_port = config.host_port(self.metrics_listen, key="metrics_listen")
        return ProxySettings(
            provider=provider,
            upstream_url=self.upstream,
            listen_host=host,
            listen_port=port,
            policy_file=self.policy,
            token_key_file=self.token_key_file,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            **tuning,
        )


class ProxyConfig(ProxyBase):
    """The flags of `podwarden proxy` (its identity flags: `identity.config`)."""

    provider: ProviderName = Field(description="Which cloud's metadata protocol to speak.")
    upstream_timeout: float = Field(_DEFAULT["upstream_timeout"], description="Seconds per read.")
    drain_timeout: float = Field(_DEFAULT["drain_timeout"], description="Seconds to drain on stop.")
    header_timeout: float = Field(
        _DEFAULT["header_timeout"],
        description="Seconds a client has to send a whole request (slow clients are cut off).",
    )
    max_connections: int = Field(
        _DEFAULT["max_connections"],
        description="Open client connections at most; more get 503 and are closed.",
    )
    max_connections_per_client: int = Field(
        _DEFAULT["max_connections_per_client"],
        description="Open connections one client address may hold.",
    )
    long_polls_per_client: int = Field(
        _DEFAULT["long_polls_per_client"],
        description="GCE wait_for_change requests one client address may hold at once.",
    )
    long_poll_pool: int = Field(
        _DEFAULT["long_poll_pool_size"],
        description="GCE wait_for_change requests held upstream at once for all clients "
        "(their own connections, apart from ordinary requests).",
    )

    def settings(self) -> ProxySettings:
        """Everything `proxy.start` needs; ConfigError naming the key otherwise."""
        if self.listen is None:
            raise ConfigError("required (--listen)", key="listen")
        return self.proxy_settings(
            self.provider,
            listen=self.listen,
            upstream_timeout=self.upstream_timeout,
            drain_timeout=self.drain_timeout,
            header_timeout=self.header_timeout,
            max_connections=self.max_connections,
            max_connections_per_client=self.max_connections_per_client,
            long_polls_per_client=self.long_polls_per_client,
            long_poll_pool_size=self.long_poll_pool,
        )
