"""NodeRestriction for service-account tokens and kubelet certificate requests.

A node may request a token only bound to a pod (v1 Pod, by name and uid) that runs
on itself. From 1.33 (ServiceAccountNodeAudienceRestriction) the token may carry at
most one audience, and that audience must be one the bound pod uses: a projected
serviceAccountToken's audience, or a token request of the CSI driver behind an
inline CSI volume, an in-tree volume migrated to CSI, or a PVC (directly or as a
generic ephemeral volume) through its PV — unless the authorizer grants the node
verb `request-serviceaccounts-token-audience` on that audience. Lookup failures on
the way are reported only when no volume matched (upstream collects them).

A kubelet-serving or kubelet-client CSR from a node must name `system:node:<itself>`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from podwarden.nodeauth.graph import PVC, split
from podwarden.nodeauth.restriction import Lookups, Refusal, Request, expect, not_found
from podwarden.nodeauth.versions import Rules

KUBELET_SIGNERS = ("kubernetes.io/kubelet-serving", "kubernetes.io/kube-apiserver-client-kubelet")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def admit(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    if request.operation != "CREATE" or request.subresource != "token":
        return
    token_request = expect(request.obj, "TokenRequest")
    spec = _map(token_request.get("spec"))
    ref = _map(spec.get("boundObjectRef"))
    if not ref or ref.get("apiVersion") != "v1" or ref.get("kind") != "Pod" or not ref.get("name"):
        raise Refusal("node requested token not bound to a pod")
    if not ref.get("uid"):
        raise Refusal("node requested token with a pod binding without a uid")
    pod = lookups.pod(request.namespace, str(ref["name"]))
    if pod is None:
        raise not_found("pod", str(ref["name"]))
    if ref["uid"] != pod.uid:
        raise Refusal(
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
            "record. The object might have been deleted and then recreated"
        )
    if pod.node != node:
        raise Refusal("node requested token bound to a pod scheduled on a different node")
    if rules.token_audiences:
        audiences = [str(a) for a in spec.get("audiences") or []]
        _check_audience(node, request, audiences, pod, lookups)


def _check_audience(
    node: str, request: Request, audiences: list[str], pod: Any, lookups: Lookups
) -> None:
    if len(audiences) > 1:
        raise Refusal("node may only request 0 or 1 audiences")
    audience = audiences[0] if audiences else ""
    if audience in pod.audiences:
        return
    errors: list[str] = []
    drivers = list(pod.drivers)
    for vertex in pod.refs:
        kind, namespace, claim = split(vertex)
        if kind != PVC:
            continue
        volume = lookups.pvc_volume(namespace, claim)
        if volume is None:
            errors.append(f'persistentvolumeclaim "{claim}" not found')
            continue
        driver = lookups.pv_driver(volume)
        if driver is None:
            errors.append(f'persistentvolume "{volume}" not found')
        elif driver:
            drivers.append(driver)
    for driver in drivers:
        known = lookups.csi_audiences(driver)
        if known is None:
            errors.append(f'csidriver.storage.k8s.io "{driver}" not found')
        elif audience in known:
            return
    if errors:
        joined = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
        raise Refusal(f'error validating audience "{audience}": {joined}')
    if lookups.audience_granted(node, audience, request.namespace, request.name):
        return
    raise Refusal(
        f'audience "{audience}" not found in pod spec volume, system:node:{node} is not '
        "authorized to request tokens for this audience"
    )


def admit_csr(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    if not rules.csr_common_name or request.operation != "CREATE":
        return
    spec = _map(expect(request.obj, "CertificateSigningRequest").get("spec"))
    if spec.get("signerName") not in KUBELET_SIGNERS:
        return
    try:
        pem = base64.b64decode(str(spec.get("request") or ""), validate=True)
        csr = x509.load_pem_x509_csr(pem)
        names = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    except (ValueError, binascii.Error) as exc:
        raise Refusal(f"unable to parse csr: {exc}") from None
    common_name = str(names[0].value) if names else ""
    if common_name != f"system:node:{node}":
        raise Refusal(f"can only create a node CSR with CN=system:node:{node}")
