"""The lab's Kubernetes view, as pure data: its Node, its Pods, and a kubeconfig for them.

`podwarden lab up` runs the lab API server in the node namespace, seeded
from these objects, so a lab pod is a Pod object whose status.podIPs are
the addresses its network namespace really has: the agent's identity layer
finds a pod by the address a request comes from, exactly as on a node, and
`kubectl annotate pod pod-a iam.amazonaws.com/role=…` changes what pod-a
gets. The API server listens on the node's pod-side address, so the node
(the agent, kubectl) and the pods reach it, as in a cluster; nothing outside
the lab's namespaces does.
"""

from __future__ import annotations

from typing import Any

from podwarden.lab import nodes
from podwarden.lab import plan as lab_plan
from podwarden.lab.plan import Plan, PodPlan

NODE_NAME = "lab-node"
NAMESPACE = "default"
APISERVER_PORT = 6443
APISERVER_URL = f"http://{lab_plan.NODE_POD_SIDE_V4}:{APISERVER_PORT}"

# Files in the lab's state directory (removed by `lab down`).
KUBECONFIG_NAME = "kubeconfig"
APISERVER_STATE_NAME = "apiserver.json"

_KUBELET_VERSION = "v1.32.0-podwarden-lab"


def node_object() -> dict[str, Any]:
    """The lab node, Ready, with its uplink addresses (what `kubectl get nodes` shows)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/lab": "",
            },
        },
        "spec": {"podCIDRs": [lab_plan.POD_SUPERNET_V4, lab_plan.POD_SUPERNET_V6]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": lab_plan.NODE_UPLINK_V4},
                {"type": "InternalIP", "address": lab_plan.NODE_UPLINK_V6},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
            ],
            "nodeInfo": {
                "kubeletVersion": _KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def pod_object(pod: PodPlan) -> dict[str, Any]:
    """A lab pod as the kubelet would report it: Running on the lab node, with its IPs."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": NAMESPACE, "labels": {"app": pod.name}},
        "spec": {
            "nodeName": NODE_NAME,
            "containers": [{"name": "main", "image": "podwarden-lab/netns:latest"}],
        },
        "status": {
            "phase": "Running",
            "hostIP": lab_plan.NODE_UPLINK_V4,
            "hostIPs": [{"ip": lab_plan.NODE_UPLINK_V4}, {"ip": lab_plan.NODE_UPLINK_V6}],
            "podIP": pod.ipv4,
            "podIPs": [{"ip": pod.ipv4}, {"ip": pod.ipv6}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "main",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "image": "podwarden-lab/netns:latest",
                    "imageID": "",
                    "state": {"running": {}},
                }
            ],
        },
    }


def seed_objects(plan: Plan) -> list[dict[str, Any]]:
    """What the lab API server starts with: the namespace, the node, one Pod per lab pod,
    and the second node's objects (nodes.py)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return [namespace, node_object(), *(pod_object(p) for p in plan.pods), *nodes.seed_objects()]


def kubeconfig_text(server: str = APISERVER_URL) -> str:
    """A kubeconfig for the lab API server (no credentials: the lab serves without them)."""
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: podwarden-lab\n  cluster: {{server: {server!r}}}\n"
        "users:\n"
        "- name: podwarden-lab\n  user: {}\n"
        "contexts:\n"
        "- name: podwarden-lab\n"
        f"  context: {{cluster: podwarden-lab, user: podwarden-lab, namespace: {NAMESPACE}}}\n"
        "current-context: podwarden-lab\n"
    )
