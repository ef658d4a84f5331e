"""`podwarden webhook --config FILE`: what the admission webhook enforces.

Parsed once into immutable values at start-up (policies loaded, levels parsed),
so a request never meets a configuration error; every mistake is a ConfigError
naming the key. Without a file the webhook behaves as PSA does out of the box:
Pod Security Standards from namespace labels, privileged:latest by default.

```yaml
mode: pss            # pss | psp | tenant
pss:                 # defaults for namespaces without labels (PSA's AdmissionConfiguration)
  enforce: baseline
  enforce-version: latest
  audit: restricted
  warn: restricted
psp:
  policies: [policy.yaml]          # PodSecurityPolicy files, relative to the config file
  clusterPolicies: true            # with --kubeconfig/--in-cluster, also the cluster's own
                                   # PodSecurityPolicy objects (podwarden's CRD, policy/v1beta1)
tenant:
  version: latest
  baseRoleArn: arn:aws:iam::123456789012:role/
exemptions: {usernames: [], namespaces: [kube-system], runtimeClasses: []}
workloads: warn      # warn (PSA's behaviour) | refuse
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from podwarden import config
from podwarden.podsecurity import namespace
from podwarden.podsecurity.levels import PolicyValueError, level_version
from podwarden.podsecurity.psp import engine

Mode = Literal["pss", "psp", "tenant"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PssDefaults(_Strict):
    enforce: str = "privileged"
    enforce_version: str = Field("latest", alias="enforce-version")
    audit: str = "privileged"
    audit_version: str = Field("latest", alias="audit-version")
    warn: str = "privileged"
    warn_version: str = Field("latest", alias="warn-version")


class PspSection(_Strict):
    policies: list[str] = Field(default_factory=list)
    cluster_policies: bool = Field(True, alias="clusterPolicies")


class TenantSection(_Strict):
    version: str = "latest"
    base_role_arn: str | None = Field(None, alias="baseRoleArn")


class ExemptionSection(_Strict):
    usernames: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    runtime_classes: list[str] = Field(default_factory=list, alias="runtimeClasses")


class WebhookFile(_Strict):
    mode: Mode = "pss"
    pss: PssDefaults = Field(default_factory=lambda: PssDefaults.model_validate({}))
    psp: PspSection = Field(default_factory=lambda: PspSection.model_validate({}))
    tenant: TenantSection = Field(default_factory=lambda: TenantSection.model_validate({}))
    exemptions: ExemptionSection = Field(default_factory=ExemptionSection)
    workloads: Literal["warn", "refuse"] = "warn"


@dataclass(frozen=True)
class Settings:
    """The parsed, ready-to-use configuration."""

    mode: Mode = "pss"
    defaults: namespace.NamespacePolicy = namespace.DEFAULT_POLICY
    policies: tuple[engine.Policy, ...] = ()
    cluster_policies: bool = True
    """Read PodSecurityPolicy objects from the API server too (mode psp, with a cluster)."""
    tenant_version: str = "latest"
    base_role_arn: str | None = None
    exemptions: namespace.Exemptions = field(default_factory=namespace.Exemptions)
    refuse_workloads: bool = False


def _level(source: str, key: str, level: str, version: str) -> Any:
    try:
        return level_version(level, version)
    except PolicyValueError as exc:
        raise config.ConfigError(f"{source}: {key}: {exc}") from None


def _read_policies(source: str, base: Path, files: list[str]) -> tuple[engine.Policy, ...]:
    docs: list[dict[str, Any]] = []
    for index, name in enumerate(files):
        path = (base / name) if not Path(name).is_absolute() else Path(name)
        key = f"{source}: psp.policies[{index}]"
        try:
            text = path.read_text(encoding="utf-8")
            found = [d for d in yaml.safe_load_all(text) if d is not None]
        except OSError as exc:
            raise config.ConfigError(f"{key}: {path}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise config.ConfigError(f"{key}: {path}: not valid YAML: {exc}") from None
        for doc in found:
            if isinstance(doc, dict) and doc.get("kind") == "List":
                docs.extend(doc.get("items") or [])
            else:
                docs.append(doc)
    try:
        return tuple(engine.load_policies(docs))
    except engine.PolicyError as exc:
        raise config.ConfigError(f"{source}: psp.policies: {exc}") from None


def from_data(data: Any, *, source: str, base: Path) -> Settings:
    """Validate parsed YAML (relative policy paths resolve against `base`)."""
    parsed = config.validate(WebhookFile, data, source=source)
    d = parsed.pss
    defaults = namespace.NamespacePolicy(
        enforce=_level(source, "pss.enforce", d.enforce, d.enforce_version),
        audit=_level(source, "pss.audit", d.audit, d.audit_version),
        warn=_level(source, "pss.warn", d.warn, d.warn_version),
    )
    _level(source, "tenant.version", "restricted", parsed.tenant.version)
    policies = _read_policies(source, base, parsed.psp.policies)
    if parsed.mode == "psp" and not policies and not parsed.psp.cluster_policies:
        raise config.ConfigError(
            f"{source}: psp.policies: mode psp needs at least one policy file "
            "(or psp.clusterPolicies: true, with --kubeconfig or --in-cluster)"
        )
    ex = parsed.exemptions
    return Settings(
        mode=parsed.mode,
        defaults=defaults,
        policies=policies,
        cluster_policies=parsed.psp.cluster_policies,
        tenant_version=parsed.tenant.version,
        base_role_arn=parsed.tenant.base_role_arn,
        exemptions=namespace.Exemptions.of(
            usernames=ex.usernames, namespaces=ex.namespaces, runtime_classes=ex.runtime_classes
        ),
        refuse_workloads=parsed.workloads == "refuse",
    )


def load(path: Path | None) -> Settings:
    """Read `--config` (None: the defaults)."""
    if path is None:
        return Settings()
    return from_data(config.read_yaml(path), source=str(path), base=path.parent)
