"""Settings of `podwarden agent`: the rule keys plus the proxy's.

Same rules as `podwarden rules`: every flag is a `--config` key, flags win,
errors name the key.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from podwarden.config import ConfigError
from podwarden.netfilter.settings import RulesConfig


class AgentConfig(RulesConfig):
    """Agent keys; `proxy`/`proxy6` come from `listen`/`listen6` and cannot be set."""

    upstream: str | None = None
    listen: str | None = None
    listen6: str | None = None
    reconcile_period: float = Field(default=5.0, gt=0, le=3600)
    policy: Path | None = None
    metrics_listen: str | None = None
    health_listen: str | None = None
    log_level: str = "info"

    def checked(self) -> AgentConfig:
        """Required keys present and the rule keys derived from the listen addresses."""
        if self.proxy is not None or self.proxy6 is not None:
            raise ConfigError("proxy: not an agent key; the agent redirects to `listen`/`listen6`")
        if self.fail_closed_only:
            raise ConfigError(
                "fail_closed_only: not an agent key; use `podwarden rules apply` at boot"
            )
        for key in ("provider", "upstream", "listen"):
            if getattr(self, key) is None:
                raise ConfigError(f"{key}: required (--{key} or key `{key}`)")
        if self.provider == "alibaba":
            raise ConfigError("provider: the proxy speaks aws, gce or azure (not alibaba)")
        return self.model_copy(update={"proxy": self.listen, "proxy6": self.listen6})
