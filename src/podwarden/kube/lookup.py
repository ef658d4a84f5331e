"""Consistent reads of "which pods on this node hold this IP?", for decisions a watch cannot make.

The cluster view follows a watch, and a watch may lag by any amount: if it lags
more than a whole delete-and-recreate cycle, the view still shows the old pod
on an address a new pod already uses (kube2iam's and kiam's wrong-credentials
bug). A list without `resourceVersion` is served from a quorum read (or the
consistent watch cache), so it reflects every write the API server has
acknowledged before the read began. Identity asks it before serving credentials.

Kubernetes supports the field selector `status.podIP` (the primary address
only) together with `spec.nodeName`. An address that is a pod's secondary IP
(dual-stack) or written in another text form is not found by the selector, so
an empty answer is double-checked with the node's whole pod list, filtered here
over `status.podIPs` in canonical form. That costs one more list only on the
path that refuses anyway.
"""

from __future__ import annotations

from typing import Any

from podwarden.kube.client import Api, ApiUnavailable
from podwarden.kube.objects import Pod, canonical_ip

PODS_PATH = "/api/v1/pods"


async def _list(api: Api, selector: str) -> list[Pod]:
    body = await api.get_json(PODS_PATH, params={"fieldSelector": selector})
    items: Any = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiUnavailable(f"GET {PODS_PATH}: the answer is not a list (no items)")
    return [Pod(dict(item, kind="Pod")) for item in items if isinstance(item, dict)]


async def pods_with_ip(api: Api, ip: str, *, node: str) -> list[Pod]:
    """Every pod on `node` whose `status.podIPs` holds `ip`, as of now (a consistent read).

    Live or not: callers decide what counts (terminal, terminating and
    hostNetwork pods are returned too). Errors raise ApiStatusError/ApiUnavailable.
    """
    address = canonical_ip(ip)
    if address is None:
        raise ValueError(f"pods_with_ip: {ip!r} is not an IP address")
    if not node:
        raise ValueError("pods_with_ip: node must name this node (spec.nodeName)")
    selected = await _list(api, f"status.podIP={address},spec.nodeName={node}")
    found = [pod for pod in selected if address in pod.ips and pod.node_name == node]
    if found:
        return found
    on_node = await _list(api, f"spec.nodeName={node}")
    return [pod for pod in on_node if address in pod.ips and pod.node_name == node]
