"""Admission benchmark data: a realistic set of 10 PodSecurityPolicies and two pods.

The set is what a multi-team cluster carried before PSP's removal: one policy per
kind of workload (host agents, batch, storage, sandboxed runtimes, a read-only
log shipper…). The typical web pod is admitted only by the last policy by name,
so every evaluation walks all ten (PSP's worst ordinary case: nine policies
applied, defaulted and refused before the one that fits); the attacker's pod
(privileged, host network, host `/`) is refused by all ten and the message lists
every reason. `check_set()` proves both facts before anything is timed, so the
benchmark cannot silently measure the wrong path.
"""

from __future__ import annotations

from typing import Any

from podwarden.podsecurity.psp import engine

ANY = {"rule": "RunAsAny"}


def _policy(name: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "privileged": False,
        "seLinux": ANY,
        "runAsUser": {"rule": "MustRunAsNonRoot"},
        "supplementalGroups": ANY,
        "fsGroup": ANY,
        "volumes": ["configMap", "secret", "emptyDir", "projected", "downwardAPI"],
    }
    return {
        "apiVersion": "policy/v1beta1",
        "kind": "PodSecurityPolicy",
        "metadata": {"name": name},
        "spec": base | spec,
    }


POLICIES: list[dict[str, Any]] = [
    _policy(  # node agents: host network and host paths, but no capabilities beyond none
        "00-node-agent",
        hostNetwork=True,
        hostPorts=[{"min": 9100, "max": 9100}],
        volumes=["hostPath", "secret"],
        allowedHostPaths=[{"pathPrefix": "/proc", "readOnly": True}],
        runAsUser=ANY,
    ),
    _policy(  # restricted: every capability dropped, none added
        "10-restricted",
        requiredDropCapabilities=["ALL"],
        allowPrivilegeEscalation=False,
        readOnlyRootFilesystem=True,
    ),
    _policy(  # log shippers: host /var/log, read-only
        "20-log-shipper",
        volumes=["hostPath", "configMap"],
        allowedHostPaths=[{"pathPrefix": "/var/log", "readOnly": True}],
    ),
    _policy(  # batch jobs run under a fixed uid range
        "30-batch",
        runAsUser={"rule": "MustRunAs", "ranges": [{"min": 2000, "max": 2999}]},
    ),
    _policy(  # storage: CSI inline volumes only
        "40-storage",
        volumes=["csi", "ephemeral", "persistentVolumeClaim"],
        allowedCSIDrivers=[{"name": "ebs.csi.aws.com"}],
    ),
    _policy(  # shared data: a fixed fsGroup range
        "50-shared-data",
        fsGroup={"rule": "MustRunAs", "ranges": [{"min": 5000, "max": 5999}]},
    ),
    _policy(  # finance: supplemental groups in their own range
        "60-finance",
        supplementalGroups={"rule": "MustRunAs", "ranges": [{"min": 3000, "max": 3999}]},
    ),
    _policy(  # untrusted code: gVisor only
        "70-sandboxed",
        runtimeClass={"allowedRuntimeClassNames": ["gvisor"]},
    ),
    _policy(  # no binding to low ports
        "80-no-low-ports",
        requiredDropCapabilities=["NET_BIND_SERVICE", "NET_RAW"],
    ),
    _policy(  # web workloads: the one the typical pod fits
        "90-web",
        allowedCapabilities=["NET_BIND_SERVICE"],
        requiredDropCapabilities=["NET_RAW"],
        allowPrivilegeEscalation=False,
        fsGroup={"rule": "MayRunAs", "ranges": [{"min": 1, "max": 65535}]},
        supplementalGroups={"rule": "MayRunAs", "ranges": [{"min": 1, "max": 65535}]},
    ),
]

_HARDENED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["NET_RAW"]},
}
TYPICAL_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "team", "labels": {"app": "web"}},
    "spec": {
        "serviceAccountName": "web",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "fsGroup": 1000,
            "supplementalGroups": [1000],
        },
        "containers": [
            {
                "name": "app",
                "image": "nginx",
                "ports": [{"containerPort": 80}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["NET_RAW"], "add": ["NET_BIND_SERVICE"]},
                },
                "volumeMounts": [
                    {"name": "cache", "mountPath": "/cache"},
                    {"name": "cfg", "mountPath": "/etc/nginx/conf.d", "readOnly": True},
                ],
            },
            {"name": "metrics", "image": "exporter", "securityContext": _HARDENED},
        ],
        "volumes": [
            {"name": "cache", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "web"}},
            {"name": "tls", "secret": {"secretName": "web-tls"}},
        ],
    },
}
ATTACKER_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "escape", "namespace": "team"},
    "spec": {
        "hostNetwork": True,
        "containers": [
            {
                "name": "shell",
                "image": "busybox",
                "securityContext": {"privileged": True},
                "volumeMounts": [{"name": "root", "mountPath": "/rootfs"}],
            }
        ],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    },
}


def load() -> list[engine.Policy]:
    """The 10 policies, validated as the API server would have (PolicyError if not)."""
    return engine.load_policies(POLICIES)


def admit(pod: dict[str, Any], policies: list[engine.Policy]) -> engine.PspResult:
    """One PSP admission of `pod` on create, every policy usable (no RBAC narrowing)."""
    return engine.admit(
        pod, policies=policies, rbac=engine.Rbac.allow_all(), user="alice", namespace="team"
    )


def check_set(policies: list[engine.Policy]) -> None:
    """Raise RuntimeError unless each of the first nine policies alone refuses the
    typical pod, the set admits it by the last one, and each policy alone refuses
    the attacker's pod (so the set's refusal really evaluates all ten)."""
    if len(policies) != 10:
        raise RuntimeError(f"expected 10 policies, loaded {len(policies)}")
    for policy in policies[:-1]:
        if admit(TYPICAL_POD, [policy]).allowed:
            raise RuntimeError(f"typical pod: {policy.name!r} admits it; only the last should")
    typical = admit(TYPICAL_POD, policies)
    last = policies[-1].name
    if not typical.allowed or typical.policy != last:
        raise RuntimeError(f"typical pod: expected admission by {last!r}, got {typical.reasons}")
    for policy in policies:
        if admit(ATTACKER_POD, [policy]).allowed:
            raise RuntimeError(f"attacker pod admitted by {policy.name!r}")
