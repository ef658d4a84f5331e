"""The static `system:node` rules: what the node authorizer grants every node alike.

Upstream compiles them in (plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
NodeRules()) and evaluates them with RBAC's RulesAllow for any request the graph
does not subdivide (services, events, CSRs, runtime classes…). Rules that depend
on a feature gate carry the version from which the gate is on by default; gates
that are off by default (ClusterTrustBundle, PodCertificateRequest) contribute
nothing here.
"""

from __future__ import annotations

from podwarden.nodeauth.versions import Rules
from podwarden.rbac import Rule

READ = ("get", "list", "watch")

_ALWAYS: tuple[Rule, ...] = (
    Rule.of(["create"], api_groups=["authentication.k8s.io"], resources=["tokenreviews"]),
    Rule.of(
        ["create"],
        api_groups=["authorization.k8s.io"],
        resources=["subjectaccessreviews", "localsubjectaccessreviews"],
    ),
    Rule.of(READ, api_groups=[""], resources=["services"]),
    Rule.of(["create", "get", "list", "watch"], api_groups=[""], resources=["nodes"]),
    Rule.of(["update", "patch"], api_groups=[""], resources=["nodes/status"]),
    Rule.of(["update", "patch"], api_groups=[""], resources=["nodes"]),
    Rule.of(["create", "update", "patch"], api_groups=["", "events.k8s.io"], resources=["events"]),
    Rule.of(READ, api_groups=[""], resources=["pods"]),
    Rule.of(["create", "delete"], api_groups=[""], resources=["pods"]),
    Rule.of(["update", "patch"], api_groups=[""], resources=["pods/status"]),
    Rule.of(["create"], api_groups=[""], resources=["pods/eviction"]),
    Rule.of(READ, api_groups=[""], resources=["secrets", "configmaps"]),
    Rule.of(["get"], api_groups=[""], resources=["persistentvolumeclaims", "persistentvolumes"]),
    Rule.of(["get"], api_groups=[""], resources=["endpoints"]),
    Rule.of(
        ["create", "get", "list", "watch"],
        api_groups=["certificates.k8s.io"],
        resources=["certificatesigningrequests"],
    ),
    Rule.of(
        ["get", "create", "update", "patch", "delete"],
        api_groups=["coordination.k8s.io"],
        resources=["leases"],
    ),
    Rule.of(["get"], api_groups=["storage.k8s.io"], resources=["volumeattachments"]),
    Rule.of(["create"], api_groups=[""], resources=["serviceaccounts/token"]),
    Rule.of(
        ["get", "update", "patch"], api_groups=[""], resources=["persistentvolumeclaims/status"]
    ),
    Rule.of(["get", "watch", "list"], api_groups=["storage.k8s.io"], resources=["csidrivers"]),
    Rule.of(
        ["get", "create", "update", "patch", "delete"],
        api_groups=["storage.k8s.io"],
        resources=["csinodes"],
    ),
    Rule.of(READ, api_groups=["node.k8s.io"], resources=["runtimeclasses"]),
)

_DRA: tuple[Rule, ...] = (
    Rule.of(["get"], api_groups=["resource.k8s.io"], resources=["resourceclaims"]),
    Rule.of(["deletecollection"], api_groups=["resource.k8s.io"], resources=["resourceslices"]),
)

_SERVICE_ACCOUNT_GET: tuple[Rule, ...] = (
    Rule.of(["get"], api_groups=[""], resources=["serviceaccounts"]),
)


def node_rules(rules: Rules) -> tuple[Rule, ...]:
    """NodeRules() as the given version compiles them."""
    found = list(_ALWAYS)
    if rules.dra_rules:
        found.extend(_DRA)
    if rules.service_account_get:
        found.extend(_SERVICE_ACCOUNT_GET)
    return tuple(found)
