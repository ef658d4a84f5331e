"""The upstream NodeRestriction admission plugin's test tables, run against podwarden's port.

Ported as data in `restriction.yaml` from kubernetes/kubernetes
plugin/pkg/admission/noderestriction/admission_test.go on the master branch read in
early 2026 (ServiceAccountNodeAudienceRestriction and kubelet CSR cases included).
Each case's expected error is a substring of the refusal message, as upstream checks.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from podwarden.nodeauth import restriction, restriction_nodes, versions
from podwarden.nodeauth.populate import ClusterState

DATA = yaml.safe_load((Path(__file__).parent / "restriction.yaml").read_text())
KEY = ec.generate_private_key(ec.SECP256R1())


def pod(name: str, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    fixture = DATA["pods"][name]
    node = fixture["node"]
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": "pod-uid"}
    if fixture.get("mirror"):
        meta["annotations"] = {"kubernetes.io/config.mirror": "true"}
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "name": node,
                "uid": f"{node}-uid",
                "controller": True,
            }
        ]
    if labels is not None:
        meta["labels"] = labels
    spec = {"nodeName": node, "volumes": fixture.get("volumes", [])}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec}


def node_labels(spec: str) -> dict[str, str]:
    sets, _, value = spec.partition("=")
    value = value or "value"
    names = ["allowed_update", "forbidden_create", "forbidden_update"] if sets == "all" else [sets]
    return {key: value for name in names for key in DATA["labels"][name]}


def csr(cn: str, signer: str, *, valid: bool) -> dict[str, Any]:
    if valid:
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
            .sign(KEY, hashes.SHA256())
        )
        pem = request.public_bytes(serialization.Encoding.PEM)
    else:
        pem = b"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----"
    return {
        "kind": "CertificateSigningRequest",
        "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer},
    }


def build(ref: str | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    kind, sep, rest = ref.partition(":")
    if kind == "pod" and sep:
        name, _, labels = rest.partition("+")
        label_sets = {
            "a": {"label-a": "value-a"},
            "ab": {"label-a": "value-a", "label-b": "value-b"},
        }
        return pod(name, labels=label_sets[labels] if labels else None)
    if kind == "eviction" and sep:
        return {"kind": "Eviction", "metadata": {"name": rest, "namespace": "ns"}}
    if kind == "token" and sep:
        name, uid, audiences = rest.split("/")
        spec: dict[str, Any] = {"audiences": audiences.split(",") if audiences else []}
        if name:
            spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1", "name": name, "uid": uid}
        return {"kind": "TokenRequest", "spec": spec}
    if kind in ("csr", "csr-invalid"):
        cn, _, signer = rest.rpartition(":kubernetes.io/")
        return csr(cn, f"kubernetes.io/{signer}", valid=kind == "csr")
    name, _, labels = ref.partition("+")
    fixture = copy.deepcopy(DATA["objects"][name])
    if "pod" in fixture:
        built = pod("mymirrorpod")
        built["metadata"]["name"] = fixture["pod"]
        built["spec"].update(fixture["spec"])
        return built
    if "node" in fixture:
        meta: dict[str, Any] = {"name": fixture["node"], "uid": f"{fixture['node']}-uid"}
        if labels:
            meta["labels"] = node_labels(labels)
        return {"kind": "Node", "metadata": meta, "spec": fixture.get("spec", {})}
    return fixture


def lookups(case: dict[str, Any]) -> ClusterState:
    state = ClusterState()
    if case.get("pods", "existing") == "existing":
        for name in DATA["existing_pods"]:
            state.apply(pod(name))
    for name, uid in DATA["nodes"].items():
        state.apply({"kind": "Node", "metadata": {"name": name, "uid": uid}})
    present = case.get("lookups", ["csidrivers", "pvcs", "pvs"])
    if "csidrivers" in present:
        for name, audiences in DATA["csidrivers"].items():
            requests = [{"audience": a} for a in audiences]
            state.apply(
                {
                    "kind": "CSIDriver",
                    "metadata": {"name": name},
                    "spec": {"tokenRequests": requests},
                }
            )
    if "pvcs" in present:
        for name, volume in DATA["pvcs"].items():
            state.apply(
                {"kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "ns"},
                 "spec": {"volumeName": volume}}
            )  # fmt: skip
    if "pvs" in present:
        for name, spec in DATA["pvs"].items():
            state.apply({"kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec})
    return state


def rules(features: dict[str, bool] | None) -> versions.Rules:
    base = versions.parse(DATA["defaults"]["version"])
    return dataclasses.replace(base, **{**DATA["defaults"]["features"], **(features or {})})


def request(case: dict[str, Any], obj: Any, old: Any = None) -> restriction.Request:
    user = case.get("user", "mynode")
    group, _, resource = case["res"].rpartition("/")
    return restriction.Request(
        user="bob" if user == "bob" else f"system:node:{user}",
        groups=() if user == "bob" else ("system:nodes",),
        operation=case["op"],
        group=group,
        resource=resource,
        subresource=case.get("sub", ""),
        namespace=case.get("ns", ""),
        name=case.get("name", ""),
        obj=obj,
        old=old,
    )


def check(verdict: restriction.Verdict, err: str) -> None:
    if err:
        assert not verdict.allowed, f"expected a refusal containing {err!r}"
        assert err in verdict.message, verdict.message
    else:
        assert verdict.allowed, verdict.message


@pytest.mark.parametrize("case", DATA["admit"], ids=[c["case"] for c in DATA["admit"]])
def test_upstream_admit_table(case):
    verdict = restriction.admit(
        request(case, build(case.get("obj")), build(case.get("old"))),
        lookups(case),
        rules(case.get("features")),
    )
    check(verdict, case["err"])


@pytest.mark.parametrize(
    "case",
    DATA["owner_references"]["cases"],
    ids=[c["case"] for c in DATA["owner_references"]["cases"]],
)
def test_upstream_owner_reference_table(case):
    valid = DATA["owner_references"]["valid"]
    owners = [valid if o == "valid" else {**valid, **o} for o in case["owners"]]
    owners = [{k: v for k, v in o.items() if v is not None} for o in owners]
    mirror = pod("mymirrorpod")
    mirror["metadata"].update(name="test", ownerReferences=owners)
    state = ClusterState()
    if "node_uid" not in case or case["node_uid"] is not None:
        uid = case.get("node_uid", "mynode-uid")
        state.apply({"kind": "Node", "metadata": {"name": "mynode", "uid": uid}})
    req = request({"op": "CREATE", "res": "pods", "ns": "ns", "name": "test"}, mirror)
    check(restriction.admit(req, state, rules(None)), case["err"])


@pytest.mark.parametrize(
    "case", DATA["modified_labels"], ids=[c["case"] for c in DATA["modified_labels"]]
)
def test_upstream_modified_labels_table(case):
    got = restriction_nodes.modified_labels(case["a"] or {}, case["b"] or {})
    assert sorted(got) == case["want"]


def pvc(condition: str, allocated: str, resize: str | None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "capacity": {"storage": allocated},
        "phase": "Bound",
        "allocatedResources": {"storage": allocated},
    }
    if resize:
        status["allocatedResourceStatuses"] = {"storage": resize}
    if condition:
        status["conditions"] = [{"type": condition, "status": "True"}]
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "foo", "namespace": "default"},
        "spec": {"volumeName": "volume1", "resources": {"requests": {"storage": "10G"}}},
        "status": status,
    }


@pytest.mark.parametrize("case", DATA["pvc_status"], ids=[c["case"] for c in DATA["pvc_status"]])
def test_upstream_pvc_status_table(case):
    req = request(
        {"op": "UPDATE", "res": "persistentvolumeclaims", "sub": case["sub"], "ns": "default",
         "name": "foo"},
        pvc(*case["new"]),
        pvc(*case["old"]),
    )  # fmt: skip
    features = {"pvc_allocated_resources": bool(case.get("recovery"))}
    check(restriction.admit(req, ClusterState(), rules(features)), case["err"])


@pytest.mark.parametrize(
    "case", DATA["resource_slices"], ids=[c["case"] for c in DATA["resource_slices"]]
)
def test_upstream_resource_slice_table(case):
    def slice_of(node: str | None) -> dict[str, Any] | None:
        if node is None:
            return None
        return {
            "kind": "ResourceSlice",
            "metadata": {"name": "something"},
            "spec": {"nodeName": node},
        }

    req = request(
        {"op": case["op"], "res": "resource.k8s.io/resourceslices", "name": "foo"},
        slice_of(case.get("obj")),
        slice_of(case.get("old")),
    )
    check(restriction.admit(req, ClusterState(), rules(None)), case["err"])


def test_the_admit_table_has_both_outcomes():
    errors = [bool(case["err"]) for case in DATA["admit"]]
    assert len(errors) > 150 and any(errors) and not all(errors)
