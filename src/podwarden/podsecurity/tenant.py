"""The `tenant` preset: what keeps a shared node's metadata firewall unbypassable.

Restricted Pod Security Standards (latest), plus three explicit refusals that
matter to podwarden whatever a future PSS version says — no hostNetwork (the
pod would share the node's network namespace, where the interception rules do
not apply), no NET_ADMIN or NET_RAW added (rewrite netfilter, forge packets), no
hostPath volumes (read the node's credentials from disk) — plus the identity
guard: a role annotation the namespace does not permit is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.podsecurity import evaluate, identity_guard
from podwarden.podsecurity.psp.volumes import visit_containers

FORBIDDEN_CAPABILITIES = ("NET_ADMIN", "NET_RAW")


@dataclass(frozen=True)
class TenantResult:
    """Allowed exactly when the restricted level, the tenant rules and the guard all pass."""

    reasons: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.reasons

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


def forbidden_added(container: Mapping[str, Any]) -> list[str]:
    """The capabilities, as written, that a container adds and the preset forbids
    (NET_ADMIN, NET_RAW, ALL; with or without `CAP_`, any case)."""
    sc = container.get("securityContext") or {}
    added = (sc.get("capabilities") or {}).get("add") or []
    found = []
    for cap in added:
        name = str(cap).upper().removeprefix("CAP_")
        if name in FORBIDDEN_CAPABILITIES or name == "ALL":
            found.append(str(cap))
    return found


def tenant_rules(pod: Mapping[str, Any]) -> list[str]:
    """The preset's own refusals, independent of the PSS version."""
    spec = pod.get("spec") or {}
    reasons = []
    if spec.get("hostNetwork") is True:
        reasons.append(
            "tenant: hostNetwork=true is not allowed (it bypasses the metadata firewall)"
        )
    for path, container in visit_containers(spec):
        for cap in forbidden_added(container):
            reasons.append(f"tenant: {path}.securityContext.capabilities.add: {cap} is not allowed")
    for index, volume in enumerate(spec.get("volumes") or []):
        if isinstance(volume, Mapping) and volume.get("hostPath") is not None:
            reasons.append(f"tenant: spec.volumes[{index}]: hostPath volumes are not allowed")
    return reasons


def evaluate_tenant(
    pod: Mapping[str, Any],
    *,
    namespace_annotations: Mapping[str, str] | None,
    base_role_arn: str | None = None,
    version: str = "latest",
) -> TenantResult:
    """Judge a pod under the tenant preset.

    `namespace_annotations=None` means the namespace is unknown: any role
    annotation is then refused (fail closed).
    """
    reasons = []
    pss = evaluate.evaluate_pod(pod, level="restricted", version=version)
    if not pss.allowed:
        reasons.append(pss.message())
    try:
        reasons += tenant_rules(pod)
    except (TypeError, AttributeError, ValueError) as exc:
        reasons.append(f"tenant: malformed pod: {exc}")
    reasons += identity_guard.check_pod(pod, namespace_annotations, base_role_arn=base_role_arn)
    return TenantResult(reasons)
