"""Settings of `podwarden agent`: the rule keys, the proxy's, and pod identity's.

Same rules as `podwarden rules`: every flag is a `--config` key (dashes as
underscores), flags win, errors name the key. The identity keys are exactly
the flags of `podwarden proxy` (metadata/identity/cli.py) with the same
defaults; a unit test keeps the two lists equal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from podwarden import config
from podwarden.config import ConfigError
from podwarden.metadata.model import ProviderName
from podwarden.netfilter import settings
from podwarden.netfilter.settings import RulesConfig

if TYPE_CHECKING:
    from podwarden.metadata.identity import cli as identity_cli

_FLAG_AT_START = re.compile(r"^--([a-z][a-z0-9-]*)")


class AgentConfig(RulesConfig):
    """Agent keys; `proxy`/`proxy6` come from `listen`/`listen6` and cannot be set."""

    upstream: str | None = None
    listen: str | None = None
    listen6: str | None = None
    reconcile_period: float = Field(default=5.0, gt=0, le=3600)
    policy: Path | None = None
    token_key_file: Path | None = None
    metrics_listen: str | None = None
    health_listen: str | None = None
    log_level: str = "info"
    # Pod identity (on when one cluster source is given): the flags of `podwarden proxy`.
    kubeconfig: Path | None = None
    in_cluster: bool = False
    node: str | None = None
    cluster_file: Path | None = None
    base_role_arn: str | None = None
    default_role: str | None = None
    sts_endpoint: str | None = None
    sts_region: str = "us-east-1"
    session_duration: str = "1h"
    session_tags: bool = False
    session_scope: Literal["pod", "role"] = "pod"
    container_credentials_secret_file: Path | None = None
    gcp_iam_endpoint: str = "https://iamcredentials.googleapis.com"
    namespace_restriction: bool = True
    address_wait: str = "2s"
    verify_interval: str = "250ms"
    prefetch: bool = True

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
            raise ConfigError(
                "provider: the proxy speaks aws, gce or azure, not alibaba; on alibaba nodes "
                "refuse pod metadata traffic with `podwarden rules apply --provider alibaba "
                "--fail-closed-only`"
            )
        return self.model_copy(update={"proxy": self.listen, "proxy6": self.listen6})

    def identity_plan(self) -> identity_cli.Plan | None:
        """The pod-identity plan (None when no cluster source is set); errors name the key."""
        from podwarden.metadata.identity import cli as identity_cli

        if self.provider is None or self.provider == "alibaba":
            raise ConfigError("provider: required for pod identity (aws, gce or azure)")
        flags = {key: getattr(self, key) for key in IDENTITY_KEYS}
        try:
            return identity_cli.parse(ProviderName(self.provider), flags)
        except ConfigError as exc:
            raise ConfigError(_name_keys(str(exc))) from None


# The keys that are `podwarden proxy`'s identity flags (same names, same defaults).
IDENTITY_KEYS = (
    "kubeconfig",
    "in_cluster",
    "node",
    "cluster_file",
    "base_role_arn",
    "default_role",
    "sts_endpoint",
    "sts_region",
    "session_duration",
    "session_tags",
    "session_scope",
    "container_credentials_secret_file",
    "gcp_iam_endpoint",
    "namespace_restriction",
    "address_wait",
    "verify_interval",
    "prefetch",
)


def merge(
    config_file: Path | None, flags: dict[str, Any], identity_flags: dict[str, Any]
) -> AgentConfig:
    """File keys, overridden by the rule/proxy flags given and the identity flags given.

    `identity_flags` must hold only flags the user typed (the command drops
    click's defaults), so `--no-prefetch` (False) wins over `prefetch: true`
    in the file, and an untyped flag never hides a key of the file.
    """
    merged: AgentConfig = settings.merge(AgentConfig, config_file, flags)
    if not identity_flags:
        return merged
    data = {**merged.model_dump(exclude_unset=True), **identity_flags}
    return config.validate(AgentConfig, data, source="settings")


def _name_keys(message: str) -> str:
    """`--session-duration: …` → `session_duration (--session-duration): …`."""
    return _FLAG_AT_START.sub(
        lambda m: f"{m.group(1).replace('-', '_')} (--{m.group(1)})", message, count=1
    )
