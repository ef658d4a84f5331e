"""Which node-authorization rules apply at which Kubernetes version, as data.

The Pod Security checks' pattern: a behaviour change is a new entry with the minor
version it arrived in (as the feature became on by default), never an edit of an old
entry, so `kubernetes_version: v1.31` keeps exactly the rules a 1.31 cluster has.
`Rules.at(minor)` inflates the entries once; decisions read plain booleans.

The rules themselves follow the newest upstream sources read for this port (the
kubernetes/kubernetes master branch of early 2026, past v1.35: node_authorizer.go,
graph.go, noderestriction/admission.go and their tests). The minimum versions are
the releases in which each feature gate became on by default, from the upstream
feature-gate tables; where that table was not read directly the entry says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OLDEST = 29
LATEST = 35
"""The newest Kubernetes release; `latest` and newer versions mean these rules."""


@dataclass(frozen=True, slots=True)
class Change:
    """A rule change and the minor version that brought it."""

    minimum: int
    feature: str
    what: str


CHANGES: tuple[Change, ...] = (
    Change(
        30,
        "resource_slices",
        "ResourceSlices join the graph (slice -> node); nodes get, update, patch and delete "
        "only slices of their own node, create is left to NodeRestriction",
    ),
    Change(
        32,
        "selectors",
        "AuthorizeNodeWithSelectors: a node reads only its own Node, lists and watches pods "
        "only with fieldSelector spec.nodeName=<node>, gets only pods bound to it, and lists "
        "ResourceSlices only with their nodeName selector",
    ),
    Change(
        32,
        "pvc_allocated_resources",
        "RecoverVolumeExpansionFailure (beta): NodeRestriction lets a node update a PVC's "
        "status.allocatedResources and allocatedResourceStatuses, not only capacity and "
        "conditions",
    ),
    Change(
        33,
        "token_audiences",
        "ServiceAccountNodeAudienceRestriction: a node may request a token only for 0 or 1 "
        "audience that the bound pod's volumes use (projected token, CSI driver token "
        "requests), unless RBAC grants verb request-serviceaccounts-token-audience",
    ),
    Change(
        34,
        "service_account_get",
        "KubeletServiceAccountTokenForCredentialProviders (beta): a node may get the "
        "service accounts of its pods (graph-checked)",
    ),
    Change(
        34,
        "dra_rules",
        "DynamicResourceAllocation GA: the static node rules grant get on resourceclaims "
        "and deletecollection on resourceslices",
    ),
    Change(
        34,
        "csr_common_name",
        "NodeRestriction checks that a node's kubelet-serving and kubelet-client CSRs name "
        "system:node:<itself> (AllowInsecureKubeletCertificateSigningRequests off); minimum "
        "version inferred from the admission plugin's history, not from a feature table",
    ),
)

FEATURES = frozenset(change.feature for change in CHANGES)


class VersionError(ValueError):
    """A Kubernetes version that is not of the accepted form or range."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The features in force at one minor version."""

    minor: int
    resource_slices: bool
    selectors: bool
    pvc_allocated_resources: bool
    token_audiences: bool
    service_account_get: bool
    dra_rules: bool
    csr_common_name: bool

    @classmethod
    def at(cls, minor: int) -> Rules:
        if minor < OLDEST:
            raise VersionError(f"v1.{minor} is older than the oldest supported v1.{OLDEST}")
        on = {change.feature for change in CHANGES if change.minimum <= minor}
        return cls(
            minor=min(minor, LATEST),
            resource_slices="resource_slices" in on,
            selectors="selectors" in on,
            pvc_allocated_resources="pvc_allocated_resources" in on,
            token_audiences="token_audiences" in on,
            service_account_get="service_account_get" in on,
            dra_rules="dra_rules" in on,
            csr_common_name="csr_common_name" in on,
        )

    def label(self) -> str:
        return f"v1.{self.minor}"


_VERSION = re.compile(r"^v?1\.(\d+)(\.\d+)?$")


def parse(text: str) -> Rules:
    """`latest`, `v1.31`, `1.31` or `v1.31.4` as Rules; VersionError says what is accepted."""
    value = text.strip()
    if value == "latest":
        return Rules.at(LATEST)
    found = _VERSION.match(value)
    if not found:
        raise VersionError(
            f"{text!r} is not a Kubernetes version (accepted: latest, or v1.{OLDEST} "
            f"to v1.{LATEST} as v1.N, 1.N or v1.N.P)"
        )
    return Rules.at(int(found.group(1)))


def validate(changes: tuple[Change, ...] = CHANGES) -> None:
    """The table's own rules: features unique, versions in range and non-decreasing."""
    seen: set[str] = set()
    previous = OLDEST
    for change in changes:
        if change.feature in seen:
            raise VersionError(f"feature {change.feature!r} listed twice")
        if not OLDEST <= change.minimum <= LATEST:
            raise VersionError(f"feature {change.feature!r}: v1.{change.minimum} out of range")
        if change.minimum < previous:
            raise VersionError(f"feature {change.feature!r}: versions must not decrease")
        seen.add(change.feature)
        previous = change.minimum


validate()
LATEST_RULES = Rules.at(LATEST)
