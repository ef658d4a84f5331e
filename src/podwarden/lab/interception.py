"""How the lab sends pod metadata traffic to the proxy (inside the node namespace only).

Three ways, chosen by name:
- "agent" (the default): `podwarden agent` runs in the node namespace and
  installs, keeps and repairs its own rules, exactly as the DaemonSet does;
  nothing to install here, and removal is `podwarden rules remove` (after the
  agent is stopped, or its reconcile loop would put them back).
- "lab-dnat": the lab's own plain DNAT beside a `podwarden proxy`: one nft
  table `pwlab` that DNATs pod TCP to the metadata address:80 (IPv4 and IPv6)
  to the proxy, and resets pod TCP to the other metadata addresses so the
  "after" state has no side door (ECS, WireServer, Alibaba stay closed).
- "podwarden-rules": `podwarden rules apply …` beside a `podwarden proxy`,
  run in the node namespace with the lab's pod interface pattern.

Every nft call runs through `ip netns exec <node>`: the machine's own ruleset
is never read or written.
"""

from __future__ import annotations

from collections.abc import Sequence

from podwarden.api import metadata_addresses
from podwarden.lab import netns
from podwarden.lab import plan as lab_plan

LAB_TABLE = "pwlab"
MODES = ("agent", "lab-dnat", "podwarden-rules")
DEFAULT_MODE = "agent"


class InterceptionError(Exception):
    """Interception could not be installed; the message carries the tool's error."""


def render_lab_dnat(*, proxy_port: int = lab_plan.PROXY_PORT) -> str:
    """The nft script of the stop-gap DNAT (pure, so it can be read in a test).

    Only TCP to the metadata addresses is matched, so DNS (port 53, which GKE
    serves on 169.254.169.254) and ICMP pass untouched.
    """
    pods = lab_plan.POD_INTERFACE_PATTERN.replace("+", "*")
    v4_all = ", ".join(metadata_addresses.HOSTS_V4)
    v6_all = ", ".join(metadata_addresses.HOSTS_V6)
    # Declare, delete, re-create: one nft transaction, so a re-install never opens a gap.
    return f"""table inet {LAB_TABLE}
delete table inet {LAB_TABLE}
table inet {LAB_TABLE} {{
  chain to_proxy {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "{pods}" ip daddr {metadata_addresses.IMDS_V4} tcp dport 80 \
dnat ip to {lab_plan.NODE_POD_SIDE_V4}:{proxy_port}
    iifname "{pods}" ip6 daddr {metadata_addresses.IMDS_V6} tcp dport 80 \
dnat ip6 to [{lab_plan.NODE_POD_SIDE_V6}]:{proxy_port}
  }}
  chain side_doors {{
    type filter hook forward priority filter; policy accept;
    iifname "{pods}" ip daddr {{ {v4_all} }} meta l4proto tcp reject with tcp reset
    iifname "{pods}" ip6 daddr {{ {v6_all} }} meta l4proto tcp reject with tcp reset
  }}
}}
"""


def install(
    *,
    mode: str,
    node_netns: str,
    provider: str,
    podwarden_argv: Sequence[str],
    proxy_port: int = lab_plan.PROXY_PORT,
) -> None:
    """Install interception in `node_netns`; InterceptionError when it fails."""
    if mode == "agent":
        return  # the agent installs its own rules before it reports ready
    if mode == "lab-dnat":
        _checked(["nft", "-f", "-"], node_netns, render_lab_dnat(proxy_port=proxy_port))
    elif mode == "podwarden-rules":
        _checked(
            [
                *podwarden_argv,
                "rules",
                "apply",
                "--provider",
                provider,
                "--pod-interface",
                lab_plan.POD_INTERFACE_PATTERN,
                "--proxy",
                f"{lab_plan.NODE_POD_SIDE_V4}:{proxy_port}",
                "--proxy6",
                f"[{lab_plan.NODE_POD_SIDE_V6}]:{proxy_port}",
            ],
            node_netns,
        )
    else:
        raise InterceptionError(
            f"interception mode {mode!r} unknown (accepted: {', '.join(MODES)})"
        )


def remove(*, mode: str, node_netns: str, podwarden_argv: Sequence[str]) -> None:
    """Remove interception from `node_netns` (no error when none is installed)."""
    if mode == "lab-dnat":
        netns.run(["nft", "delete", "table", "inet", LAB_TABLE], netns=node_netns, check=False)
    elif mode in ("agent", "podwarden-rules"):
        netns.run([*podwarden_argv, "rules", "remove"], netns=node_netns, check=False)


def _checked(argv: Sequence[str], node_netns: str, input_text: str | None = None) -> None:
    proc = netns.run(argv, netns=node_netns, check=False, input_text=input_text)
    if proc.returncode != 0:
        raise InterceptionError(
            f"{' '.join(argv)} in {node_netns} failed ({proc.returncode}): {proc.stderr.strip()}"
        )
