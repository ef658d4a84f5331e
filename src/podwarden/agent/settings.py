"""Settings of `podwarden agent`: the rule keys, the proxy's, and pod identity's.

Composed from the parts' models (`RulesConfig`, `ProxyBase`, `IdentityConfig`),
so each setting is declared once: the agent's flags and `--config` keys come
from these fields (`podwarden.flags`), flags win over keys, errors name the
flag or the file's key.
"""

from __future__ import annotations

from pydantic import Field

from podwarden.config import ConfigError
from podwarden.metadata.identity.config import IdentityConfig, Plan
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxyBase
from podwarden.netfilter.settings import FILE_ONLY, RulesConfig

# Rule keys the agent does not take: it redirects to `listen`/`listen6`, and the
# fail-closed-only boot step is `podwarden rules apply`'s.
NOT_AGENT_KEYS = ("proxy", "proxy6", "fail_closed_only")
# Keys of the file that are not flags.
NOT_FLAGS = (*NOT_AGENT_KEYS, *FILE_ONLY)


class AgentConfig(IdentityConfig, ProxyBase, RulesConfig):
    """Agent keys; `proxy`/`proxy6` come from `listen`/`listen6` and cannot be set."""

    listen6: str | None = Field(
        None, description="[ADDRESS]:PORT for IPv6 pods (else their traffic is refused)"
    )
    reconcile_period: float = Field(
        default=5.0, gt=0, le=3600, description="seconds between checks of the rules"
    )
    health_listen: str | None = Field(
        None, description="HOST:PORT for /healthz, /readyz and rule metrics"
    )

    def checked(self) -> AgentConfig:
        """Required keys present and the rule keys derived from the listen addresses."""
        for key in NOT_AGENT_KEYS:
            if getattr(self, key):
                raise ConfigError(
                    "not an agent key; the agent redirects to `listen`/`listen6` "
                    "(fail-closed-only: use `podwarden rules apply` at boot)",
                    key=key,
                )
        for key in ("provider", "upstream", "listen"):
            if getattr(self, key) is None:
                raise ConfigError(f"{key}: required (--{key} or key `{key}`)")
        if self.provider == "alibaba":
            raise ConfigError(
                "provider: the proxy speaks aws, gce or azure, not alibaba; on alibaba nodes "
                "refuse pod metadata traffic with `podwarden rules apply --provider alibaba "
                "--fail-closed-only`"
            )
        return self.model_copy(update={"proxy": self.listen, "proxy6": self.listen6})

    @property
    def proxy_provider(self) -> ProviderName:
        """The provider the proxy speaks (after `checked`: aws, gce or azure)."""
        if self.provider is None or self.provider == "alibaba":
            raise ConfigError(
                "required for the proxy and pod identity (aws, gce or azure)", key="provider"
            )
        return ProviderName(self.provider)

    def identity_plan(self) -> Plan | None:
        """The pod-identity plan (None when no cluster source is set); errors name the key."""
        return self.plan(self.proxy_provider)
