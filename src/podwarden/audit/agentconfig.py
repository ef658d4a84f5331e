"""Which host-network pods the agent's interception rules catch, from its configuration.

A hostNetwork pod shares the node's network namespace, so only the agent's
pod-cgroup rule (`pod_cgroup`, minus `exempt_cgroups`) sends its metadata
traffic to the proxy. The audit reads that configuration from the agent's
ConfigMap (`agent.yaml`, the file deploy/agent mounts) and decides per pod.

The kubelet names a pod's cgroup after its UID (`pod<uid>` with the cgroupfs
driver, `kubepods-<qos>-pod<uid with _>.slice` with systemd; Guaranteed pods
sit directly below the root); a static pod's cgroup carries the UID in its
`kubernetes.io/config.hash` annotation, not its mirror pod's. An exemption
covers a pod when one of its segments is the pod's cgroup or the pod's QoS
group. When the configuration cannot be read, no host-network pod is assumed
caught: a coverage that cannot be shown is reported as missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from podwarden.kube.objects import Pod

CONFIG_HASH = "kubernetes.io/config.hash"
_QOS_SEGMENTS = {
    "Burstable": ("burstable", "kubepods-burstable.slice"),
    "BestEffort": ("besteffort", "kubepods-besteffort.slice"),
}


@dataclass(frozen=True)
class Coverage:
    """The agent's pod cgroup and exemptions; `problem` says why they are unknown."""

    pod_cgroup: str | None
    exempt: tuple[str, ...] = ()
    source: str = ""
    problem: str = ""

    def catches(self, pod: Pod) -> tuple[bool, str]:
        """(caught, why) for a hostNetwork pod."""
        if self.problem:
            return False, f"cannot tell whether the agent catches it: {self.problem}"
        if not self.pod_cgroup:
            return (
                False,
                f"the agent has no pod_cgroup ({self.source}), so host-network pods "
                "reach the metadata service directly",
            )
        segments = _pod_segments(pod)
        qos = _QOS_SEGMENTS.get(str(pod.raw.get("status", {}).get("qosClass") or ""), ())
        last = self.pod_cgroup.strip("/").split("/")[-1]
        other_qos = {s for q, names in _QOS_SEGMENTS.items() for s in names if s not in qos}
        if last in other_qos:
            return False, f"its QoS class is outside pod_cgroup {self.pod_cgroup!r}"
        for entry in self.exempt:
            parts = entry.strip("/").split("/")
            if any(part in segments for part in parts) or (qos and parts[-1] in qos):
                return False, f"exempt_cgroups entry {entry!r} covers it"
        return True, f"caught by pod_cgroup {self.pod_cgroup!r}"


def _pod_segments(pod: Pod) -> set[str]:
    uids = {pod.uid, pod.annotations.get(CONFIG_HASH, "")} - {""}
    found = set()
    for uid in uids:
        underscored = uid.replace("-", "_")
        found.add(f"pod{uid}")
        found.add(f"kubepods-pod{underscored}.slice")
        found.update(f"kubepods-{q}-pod{underscored}.slice" for q in ("burstable", "besteffort"))
    return found


def from_configmap(configmap: Mapping[str, Any] | None, *, key: str, where: str) -> Coverage:
    """Coverage from the agent's ConfigMap (None: it could not be read, `where` says why)."""
    if configmap is None:
        return Coverage(None, problem=where)
    data = configmap.get("data") or {}
    text = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(text, str):
        return Coverage(None, problem=f"{where} has no data key {key!r}")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return Coverage(None, problem=f"{where} key {key!r} is not valid YAML: {exc}")
    if not isinstance(parsed, Mapping):
        return Coverage(None, problem=f"{where} key {key!r} is not a mapping of settings")
    cgroup = parsed.get("pod_cgroup")
    exempt = parsed.get("exempt_cgroups") or []
    if cgroup is not None and not isinstance(cgroup, str):
        return Coverage(None, problem=f"{where}: pod_cgroup must be a string")
    if not isinstance(exempt, list) or not all(isinstance(e, str) for e in exempt):
        return Coverage(None, problem=f"{where}: exempt_cgroups must be a list of strings")
    return Coverage(cgroup or None, tuple(exempt), source=f"{where} key {key!r}")
