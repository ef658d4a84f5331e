"""The node blast-radius summary inside `podwarden audit`: what a fallen node exposes.

`podwarden nodeauth report` is the full per-node account; the audit carries its
ranked findings ("secret x is readable from all 5,000 nodes through DaemonSet y",
"node n-17 runs a pod whose service account may read every secret") beside the
other cluster checks, so one `audit --fail-on` gate covers them too. The same
pure engines judge both (the node graph from `nodeauth`, RBAC from `rbac`), so the
two reports never disagree.
"""

from __future__ import annotations

from podwarden import rbac
from podwarden.audit.findings import Finding, Severity
from podwarden.kube import snapshot
from podwarden.nodeauth import blast, populate, report

CHECK = "node-blast-radius"
# Optional: a cluster without CSI, DRA or a storage API still gets the pod-level graph.
COLLECTIONS = (
    snapshot.Collection("PersistentVolume", "", "persistentvolumes", optional=True),
    snapshot.Collection("PersistentVolumeClaim", "", "persistentvolumeclaims", optional=True),
    snapshot.Collection("ServiceAccount", "", "serviceaccounts", optional=True),
    snapshot.Collection("VolumeAttachment", "storage.k8s.io", "volumeattachments", optional=True),
    snapshot.Collection("CSIDriver", "storage.k8s.io", "csidrivers", optional=True),
    snapshot.Collection("ResourceSlice", "resource.k8s.io", "resourceslices", None, True),
    *snapshot.RBAC,
)
FILE_KINDS = tuple(c.kind for c in COLLECTIONS)
_SEVERITY = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM}


def judge(snap: snapshot.Snapshot) -> tuple[list[Finding], list[str]]:
    """(findings, notes) of the node blast radius over the snapshot's objects."""
    state = populate.ClusterState()
    for kind in populate.KINDS:
        state.replace(kind, snap.of(kind))
    try:
        authorizer = rbac.Authorizer.from_objects(
            obj for kind in rbac.RBAC_KINDS for obj in snap.of(kind)
        )
        rbac_note = ""
    except rbac.RbacError as exc:
        # What the service accounts may do is then unknown: say so, judge the graph alone.
        authorizer = rbac.Authorizer.from_objects(())
        rbac_note = f"; RBAC not judged: {exc}"
    built = report.build(state, authorizer)
    findings = [
        Finding(
            CHECK,
            _SEVERITY.get(found.severity, Severity.INFO),
            found.subject,
            found.message,
            tuple(d for d in (found.detail, _nodes(found.nodes)) if d),
        )
        for found in built.findings
    ]
    worst = built.worst_nodes(1)
    most = f", the widest: node {worst[0].node} ({_reach(worst[0])})" if worst else ""
    note = (
        f"node blast radius: {built.total_nodes} node(s) judged{most}; "
        f"`podwarden nodeauth report` gives every node{rbac_note}"
    )
    return findings, [note]


def _nodes(nodes: tuple[str, ...]) -> str:
    shown = ", ".join(nodes[:5])
    return f"nodes: {shown}{f' and {len(nodes) - 5} more' if len(nodes) > 5 else ''}"


def _reach(reach: blast.NodeReach) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in reach.counts().items() if n) or "nothing"
