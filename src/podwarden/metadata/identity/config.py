"""Pod identity's settings as an operator types them: `podwarden proxy`'s flags, agent keys.

Declared once here: `podwarden proxy` and `podwarden agent` get their identity
flags (and the agent its `--config` keys) from `IdentityConfig`'s fields
(`podwarden.flags`). Identity is on when one cluster source is given:
`--kubeconfig F --node NAME`, `--in-cluster --node NAME` (the agent watches
only its own node's pods) or `--cluster-file F`. `plan()` checks everything
before anything starts; errors are ConfigErrors naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from podwarden.config import ConfigError
from podwarden.metadata.identity import container_tokens
from podwarden.metadata.identity.settings import IdentitySettings, parse_duration
from podwarden.metadata.model import ProviderName

_NEGATABLE: dict[str, Any] = {"negatable": True}
# Defaults declared once, in IdentitySettings (durations are text here: "1h", "2s").
_DEFAULT: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(IdentitySettings)}


class IdentityConfig(BaseModel):
    """The identity flags; durations are text (`90`, `500ms`, `45m`, `1h`) checked on load."""

    model_config = ConfigDict(extra="forbid")

    kubeconfig: Path | None = Field(
        None, description="Pod identity: watch pods through this kubeconfig."
    )
    in_cluster: bool = Field(
        False, description="Pod identity: watch pods with the service-account token."
    )
    node: str | None = Field(None, description="Pod identity: this node's name (pods to watch).")
    cluster_file: Path | None = Field(
        None,
        description="Pod identity: pods and namespaces from a YAML file, polled every second. "
        "No consistent read: the file alone decides, so when an address passes to a new "
        "pod, the old pod's role is served on it until the rewritten file is read "
        "(up to 1 s after the write). Remove a pod from the file before its address is reused.",
    )
    base_role_arn: str | None = Field(
        None, description="AWS: completes role names, e.g. arn:aws:iam::123456789012:role/"
    )
    default_role: str | None = Field(None, description="AWS: role for pods without annotation.")
    sts_endpoint: str | None = Field(None, description="AWS: STS endpoint URL.")
    sts_region: str = Field(_DEFAULT["sts_region"], description="AWS: STS region.")
    session_duration: str = Field("1h", description="AWS: AssumeRole duration (20m-12h).")
    session_tags: bool = Field(
        _DEFAULT["session_tags"],
        description="AWS: tag sessions with namespace, pod and service account.",
        json_schema_extra=_NEGATABLE,
    )
    session_scope: Literal["pod", "role"] = Field(
        _DEFAULT["session_scope"],
        description="AWS: `pod` (default): one STS session per pod, named namespace.pod, so "
        "CloudTrail attributes each call to its pod; costs one AssumeRole per pod per "
        "refresh period. `role`: one session per (role, external id) shared by all its "
        "pods — one AssumeRole per role per period, but CloudTrail sees only "
        "podwarden-<role> (no session tags).",
    )
    container_credentials_secret_file: Path | None = Field(
        None,
        description="AWS: serve GET /v1/credentials with per-pod tokens keyed by this secret "
        "(print a pod's token with `podwarden identity container-token`).",
    )
    gcp_iam_endpoint: str = Field(
        _DEFAULT["gcp_iam_endpoint"], description="GCP: IAM Credentials API base URL."
    )
    namespace_restriction: bool = Field(
        _DEFAULT["restrict_namespaces"],
        description="Namespaces must permit the identities their pods use.",
        json_schema_extra=_NEGATABLE,
    )
    address_wait: str = Field(
        "2s", description="How long a request from an unknown address waits for the view."
    )
    verify_interval: str = Field(
        "250ms",
        description="With an API: least time between consistent reads of one address "
        "(each credential answer is confirmed by a read that began after the request).",
    )
    prefetch: bool = Field(
        _DEFAULT["prefetch"],
        description="Fetch credentials when a pod with an identity appears.",
        json_schema_extra=_NEGATABLE,
    )

    @field_validator("session_duration", "address_wait", "verify_interval")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        try:
            parse_duration(value, key="")
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return value

    def plan(self, provider: ProviderName) -> Plan | None:
        """The identity plan, or None when no cluster source was given (identity off)."""
        sources = sum(1 for s in (self.kubeconfig, self.in_cluster, self.cluster_file) if s)
        if sources == 0:
            return None
        if sources > 1:
            raise ConfigError("--kubeconfig, --in-cluster and --cluster-file: give only one")
        if (self.kubeconfig or self.in_cluster) and not self.node:
            raise ConfigError(
                "required with --kubeconfig/--in-cluster (watch only this node)", key="node"
            )
        secret = None
        if self.container_credentials_secret_file is not None:
            secret = container_tokens.read_secret(
                self.container_credentials_secret_file,
                option="--container-credentials-secret-file",
            )
        settings = IdentitySettings(
            provider=provider,
            base_role_arn=self.base_role_arn,
            default_role=self.default_role,
            sts_endpoint=self.sts_endpoint,
            sts_region=self.sts_region,
            session_duration=parse_duration(self.session_duration, key="session_duration"),
            session_tags=self.session_tags,
            session_scope=self.session_scope,
            restrict_namespaces=self.namespace_restriction,
            address_wait=parse_duration(self.address_wait, key="address_wait"),
            prefetch=self.prefetch,
            verify_interval=parse_duration(self.verify_interval, key="verify_interval"),
            gcp_iam_endpoint=self.gcp_iam_endpoint,
            container_token_secret=secret,
        )
        return Plan(settings, self.kubeconfig, self.in_cluster, self.node, self.cluster_file)


@dataclass(frozen=True)
class Plan:
    """Validated identity settings: where the cluster view comes from, and the settings."""

    settings: IdentitySettings
    kubeconfig: Path | None
    in_cluster: bool
    node: str | None
    cluster_file: Path | None
