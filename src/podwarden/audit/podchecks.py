"""Per-pod and per-node checks of a cluster audit: firewall bypass, role annotations, agents.

Pure functions over `kube.objects` views, so `kubectl podwarden why` shows a pod
exactly the findings the audit lists for it.

- Bypass: a privileged container (all capabilities, the host's devices); a
  host-network pod the agent's pod-cgroup rule does not catch
  (`agentconfig.Coverage`); a container adding NET_ADMIN or NET_RAW (rewrite
  its routes and addresses, forge packets: identity follows the peer address),
  worse with host network, where NET_ADMIN rewrites the node's own rules. The
  capability list is the tenant preset's (`tenant.forbidden_added`).
- Roles: each role annotation against its namespace's permission annotations,
  with the one rule the proxy and the admission guard use
  (`api.rolepolicy.role_permitted`).
- Agents: every node needs a Running, Ready agent pod.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from podwarden.api import rolepolicy
from podwarden.audit.agentconfig import Coverage
from podwarden.audit.findings import Finding, Severity
from podwarden.kube.objects import Namespace, Pod
from podwarden.podsecurity import identity_guard, tenant
from podwarden.podsecurity.psp.volumes import visit_containers

BYPASS = "firewall-bypass"
ROLE = "role-not-permitted"
AGENT_MISSING = "agent-missing"
AGENT_NOT_READY = "agent-not-ready"


def subject(pod: Pod) -> str:
    return f"pod {pod.key}"


def _containers(pod: Pod) -> list[tuple[str, dict[str, Any]]]:
    spec = pod.raw.get("spec")
    try:
        return list(visit_containers(spec if isinstance(spec, Mapping) else {}))
    except TypeError:
        return []


def bypass(pod: Pod, coverage: Coverage) -> list[Finding]:
    """How this pod can get past the metadata firewall (empty: it cannot, as far as seen)."""
    found: list[Finding] = []
    containers = _containers(pod)
    privileged = [
        path for path, c in containers if (c.get("securityContext") or {}).get("privileged") is True
    ]
    if privileged:
        found.append(
            Finding(
                BYPASS,
                Severity.CRITICAL,
                subject(pod),
                "privileged: can read the node's credentials from the host and rewrite its rules",
                tuple(f"{path}.securityContext.privileged=true" for path in privileged),
            )
        )
    added = [(path, cap) for path, c in containers for cap in tenant.forbidden_added(c)]
    if pod.host_network:
        caught, why = coverage.catches(pod)
        net_admin = [
            f"{p}: {cap}" for p, cap in added if "ADMIN" in cap.upper() or cap.upper() == "ALL"
        ]
        if net_admin:
            found.append(
                Finding(
                    BYPASS,
                    Severity.CRITICAL,
                    subject(pod),
                    "hostNetwork with NET_ADMIN: can rewrite the node's interception rules",
                    tuple(net_admin),
                )
            )
        if not caught:
            found.append(
                Finding(
                    BYPASS,
                    Severity.HIGH,
                    subject(pod),
                    f"hostNetwork outside the agent's pod cgroup: {why}",
                )
            )
    if added and not pod.host_network:
        found.append(
            Finding(
                BYPASS,
                Severity.HIGH,
                subject(pod),
                "adds NET_ADMIN/NET_RAW: can forge source addresses, and pod identity follows "
                "the peer address",
                tuple(f"{path}.securityContext.capabilities.add: {cap}" for path, cap in added),
            )
        )
    return found


def role_verdicts(
    pod: Pod, namespace: Namespace | None, *, base_role_arn: str | None
) -> list[tuple[str, str, bool, str]]:
    """(annotation, role, permitted, why) for each role annotation of the pod."""
    verdicts = []
    for key, kind in identity_guard.ROLE_ANNOTATIONS:
        role = pod.annotations.get(key)
        if role is None:
            continue
        if namespace is None:
            permitted, why = (
                False,
                f"namespace {pod.namespace!r} not found, so nothing is permitted",
            )
        else:
            permitted, why = rolepolicy.role_permitted(
                kind, role, namespace.annotations, base_role_arn=base_role_arn
            )
        verdicts.append((key, role, permitted, why))
    return verdicts


def roles(pod: Pod, namespace: Namespace | None, *, base_role_arn: str | None) -> list[Finding]:
    """A finding for each role annotation the pod's namespace does not permit."""
    return [
        Finding(ROLE, Severity.MEDIUM, subject(pod), f"{key}={role}: {why}")
        for key, role, permitted, why in role_verdicts(pod, namespace, base_role_arn=base_role_arn)
        if not permitted
    ]


def _ready(pod: Pod) -> bool:
    conditions = (pod.raw.get("status") or {}).get("conditions") or []
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
    )


def agents(nodes: Iterable[Mapping[str, Any]], agent_pods: Iterable[Pod]) -> list[Finding]:
    """Nodes without a running, ready agent pod."""
    by_node: dict[str, list[Pod]] = {}
    for pod in agent_pods:
        by_node.setdefault(pod.node_name, []).append(pod)
    found = []
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name") or "")
        here = by_node.get(name, [])
        running = [p for p in here if p.phase == "Running" and p.deletion_timestamp is None]
        if not here:
            found.append(
                Finding(
                    AGENT_MISSING,
                    Severity.CRITICAL,
                    f"node {name}",
                    "no podwarden agent pod: pods on this node reach the metadata service directly",
                )
            )
        elif not any(_ready(p) for p in running):
            states = ", ".join(
                f"{p.name} {p.phase}{' terminating' if p.deletion_timestamp else ''}"
                f"{'' if _ready(p) else ' not ready'}"
                for p in here
            )
            found.append(
                Finding(
                    AGENT_NOT_READY,
                    Severity.MEDIUM,
                    f"node {name}",
                    "the agent is not running and ready (its rules refuse pod metadata traffic "
                    "until it is)",
                    (states,),
                )
            )
    return found
