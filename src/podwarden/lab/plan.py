"""The lab's addressing plan, as pure data (no I/O), so tests and docs agree on it.

Layout (every address lives only inside the lab's namespaces):

    pod-a (eth0 10.77.1.2, fd77:0:1::2) --veth-- (pwva 10.77.1.1, fd77:0:1::1) node
    pod-b (eth0 10.77.2.2, fd77:0:2::2) --veth-- (pwvb 10.77.2.1, fd77:0:2::1) node
    node (pwcloud 10.76.0.1, fd76::1) --veth-- (eth0 10.76.0.2, fd76::2) cloud
    node lo: 10.77.0.1 and fd77::1, the pod-side address the proxy listens on
    cloud lo: every metadata address (169.254.169.254, fd00:ec2::254, ...)

Pod interfaces on the node are all named `pwv<letter>`, so the iptables-style
pattern `pwv+` (nft `pwv*`) matches exactly them.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from podwarden.api import metadata_addresses

DEFAULT_PREFIX = "pwlab-"
MAX_PODS = 26
PROVIDERS = ("aws", "gce", "azure")

POD_INTERFACE_PATTERN = "pwv+"
NODE_UPLINK = "pwcloud"

NODE_POD_SIDE_V4 = "10.77.0.1"
NODE_POD_SIDE_V6 = "fd77::1"
NODE_UPLINK_V4 = "10.76.0.1"
CLOUD_V4 = "10.76.0.2"
NODE_UPLINK_V6 = "fd76::1"
CLOUD_V6 = "fd76::2"
POD_SUPERNET_V4 = "10.77.0.0/16"
POD_SUPERNET_V6 = "fd77::/16"

PROXY_PORT = 8775


# Ports the emulator serves on the cloud host: HTTP metadata and WireServer's HostGAPlugin.
CLOUD_PORTS = (80, metadata_addresses.HOSTGAPLUGIN_PORT)


class PlanError(ValueError):
    """A lab parameter is out of range; the message says which and what is accepted."""


@dataclass(frozen=True)
class PodPlan:
    """One pod: its names and addresses."""

    name: str
    index: int
    node_interface: str
    ipv4: str
    ipv6: str
    gateway_v4: str
    gateway_v6: str


@dataclass(frozen=True)
class Plan:
    """Names and addresses of a whole lab."""

    prefix: str
    provider: str
    pods: tuple[PodPlan, ...]

    @property
    def node(self) -> str:
        """The node's namespace name."""
        return f"{self.prefix}node"

    @property
    def cloud(self) -> str:
        """The cloud host's namespace name."""
        return f"{self.prefix}cloud"

    def pod_netns(self, pod: str) -> str:
        """The namespace name of pod `pod`; PlanError when the lab has no such pod."""
        for p in self.pods:
            if p.name == pod:
                return f"{self.prefix}{p.name}"
        names = ", ".join(p.name for p in self.pods)
        raise PlanError(f"no pod {pod!r} in this lab (pods: {names})")

    @property
    def namespaces(self) -> list[str]:
        """Every namespace of the lab, in creation order."""
        return [self.node, self.cloud, *(f"{self.prefix}{p.name}" for p in self.pods)]


def make(*, provider: str, pods: int, prefix: str = DEFAULT_PREFIX) -> Plan:
    """The plan for `pods` pods; PlanError names the bad parameter."""
    if provider not in PROVIDERS:
        raise PlanError(
            f"provider {provider!r} is not supported (accepted: {', '.join(PROVIDERS)})"
        )
    if not 1 <= pods <= MAX_PODS:
        raise PlanError(f"pods must be between 1 and {MAX_PODS}, got {pods}")
    if not prefix or len(prefix) > 8 or not all(c.isalnum() or c == "-" for c in prefix):
        raise PlanError(f"prefix {prefix!r} must be 1-8 letters, digits or '-'")
    return Plan(prefix=prefix, provider=provider, pods=tuple(_pod(i) for i in range(1, pods + 1)))


def _pod(index: int) -> PodPlan:
    letter = string.ascii_lowercase[index - 1]
    return PodPlan(
        name=f"pod-{letter}",
        index=index,
        node_interface=f"pwv{letter}",
        ipv4=f"10.77.{index}.2",
        ipv6=f"fd77:0:{index}::2",
        gateway_v4=f"10.77.{index}.1",
        gateway_v6=f"fd77:0:{index}::1",
    )
