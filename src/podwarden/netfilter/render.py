"""The interception rule set as plain data: what to redirect, what to refuse.

Pure: no I/O, no backend syntax. `render(spec)` returns an immutable `RuleSet`
that nft.py and iptables.py each turn into one atomic batch, so both backends
enforce exactly the same policy and the unit tests can compare it with golden
files. Every rule carries a comment derived from its content; the reconcile
loop compares those comments (per chain, in order) with the live ruleset,
which is how drift is detected without parsing each backend's normalised
listing back into rules.

Shape (chain names are backend-neutral; iptables prefixes them PODWARDEN-):
- nat prerouting: pod interface -> `to_proxy` (DNAT of the provider's
  endpoints to the proxy); absent with `fail_closed_only`.
- nat output: pod cgroup (host-network pods; a cgroup v2 path, or on v1 nodes
  a net_cls classid) -> `to_proxy`.
- filter forward: pod interface -> `refuse_metadata`: DNS passes, and so do TCP
  packets in the conntrack *reply* direction (a pod answering a connection the
  metadata address opened: Azure's load-balancer health probes come from
  168.63.129.16); every other packet to a metadata address is rejected (TCP
  reset), so anything a pod originates and is not redirected fails at once and
  closed. Untracked and invalid packets have no direction and stay refused, and
  a TCP reply cannot open a connection to the metadata service's listening
  ports (a SYN-ACK to a server that sent no SYN is answered with a reset), so
  nothing refused before becomes reachable for pod-originated traffic; UDP
  replies are not let through at all.
- filter output: pod cgroup -> `refuse_metadata` (node processes are not matched).
- filter input (proxy on 127.0.0.1 only): pod interface -> `localnet_guard`:
  only DNAT'ed traffic to the proxy may reach 127.0.0.0/8 (CVE-2020-8558).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from podwarden.netfilter import endpoints
from podwarden.netfilter.endpoints import DNS_PORT, RuleProvider

Family = Literal[4, 6]
Table = Literal["nat", "filter"]
Hook = Literal["prerouting", "input", "forward", "output"]
VerdictKind = Literal["jump", "return", "dnat", "reject_tcp", "reject", "drop"]

COMMENT_PREFIX = "podwarden:"
NAT_PRIORITY = -110  # before kube-proxy's and CNI's dstnat chains (-100)
FILTER_PRIORITY = -10  # before the usual filter chains (0); our reject is final anyway
_IFACE_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,15}\+?$")


class RuleSpecError(ValueError):
    """A rule setting cannot be rendered; the message names the setting."""


@dataclass(frozen=True, slots=True)
class HostPort:
    """Where the proxy listens for one address family."""

    host: str
    port: int

    @property
    def family(self) -> Family:
        return 6 if ipaddress.ip_address(self.host).version == 6 else 4

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback


@dataclass(frozen=True, slots=True)
class CgroupMatch:
    """A cgroup v2 subtree: `path` below the v2 root, `level` its depth.

    `nft_path` is the same directory relative to /sys/fs/cgroup (nft resolves
    it there; on hybrid hosts it starts with `unified/`).
    """

    path: str
    level: int
    nft_path: str


@dataclass(frozen=True, slots=True)
class ClassidMatch:
    """A cgroup v1 net_cls tag, for nodes without the pod cgroup in a v2 hierarchy.

    The kernel stamps every socket with the net_cls classid of its process's
    cgroup (and re-stamps open sockets when the classid or the process's cgroup
    changes); the rules match that number (nft `meta cgroup`, iptables `-m
    cgroup --cgroup`). The installer writes `classid` into `path` (below the
    net_cls mount `mount`) and every descendant except the `untagged` subtrees
    (the agent's own cgroup, the v1 form of `RuleSpec.exempt_cgroups`).
    """

    classid: int
    path: str
    mount: str
    untagged: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """Everything `render` needs; built from flags or YAML by the callers."""

    provider: RuleProvider
    pod_interfaces: tuple[str, ...]
    proxy4: HostPort | None = None
    proxy6: HostPort | None = None
    pod_cgroup: CgroupMatch | ClassidMatch | None = None
    exempt_cgroups: tuple[CgroupMatch, ...] = ()
    fail_closed_only: bool = False

    def __post_init__(self) -> None:
        if self.provider not in endpoints.PROVIDERS:
            raise RuleSpecError(
                f"provider: {self.provider!r} is not one of {', '.join(endpoints.PROVIDERS)}"
            )
        if not self.pod_interfaces:
            raise RuleSpecError("pod_interface: at least one pattern is required (e.g. cali+)")
        for pattern in self.pod_interfaces:
            if not _IFACE_PATTERN.match(pattern):
                raise RuleSpecError(
                    f"pod_interface: {pattern!r} is not an interface name or prefix pattern "
                    "(up to 15 of A-Z a-z 0-9 _ . - @, optionally ending in +, e.g. cali+)"
                )
        if self.proxy4 is not None and self.proxy4.family != 4:
            raise RuleSpecError(f"proxy: {self.proxy4.host!r} is not an IPv4 address")
        if self.proxy6 is not None and (self.proxy6.family != 6 or self.proxy6.loopback):
            raise RuleSpecError(
                f"proxy6: {self.proxy6.host!r} must be a non-loopback IPv6 address "
                "(the kernel never routes pod traffic to ::1)"
            )
        if isinstance(self.pod_cgroup, ClassidMatch):
            if not 0 < self.pod_cgroup.classid <= 0xFFFFFFFF:
                raise RuleSpecError(
                    f"netcls_classid: {self.pod_cgroup.classid:#x} is not in 0x1-0xffffffff "
                    "(0 is every untagged process)"
                )
            if self.exempt_cgroups:
                raise RuleSpecError(
                    "exempt_cgroups: a net_cls pod cgroup exempts by leaving subtrees "
                    "untagged (ClassidMatch.untagged), not by cgroup v2 rules"
                )
        if not self.fail_closed_only and self.proxy4 is None and self.proxy6 is None:
            raise RuleSpecError("proxy: required unless fail_closed_only is set")


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    target: str = ""  # chain for jump, address for dnat
    port: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: all matches must hold, then the verdict applies."""

    verdict: Verdict
    family: Family | None = None
    iif: str | None = None  # iptables-style pattern (`cali+`)
    cgroup: CgroupMatch | ClassidMatch | None = None
    daddr: tuple[str, ...] = ()
    proto: Literal["tcp", "udp"] | None = None
    dport: int | None = None
    ct_dnat: bool = False
    ct_reply: bool = False  # only packets in the conntrack reply direction
    comment: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain; `hook` set means a base chain (iptables: jumped to from the built-in)."""

    name: str
    table: Table
    rules: tuple[Rule, ...]
    hook: Hook | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class RuleSet:
    chains: tuple[Chain, ...]
    localnet_guard: bool

    def chain(self, name: str) -> Chain:
        return next(chain for chain in self.chains if chain.name == name)

    @property
    def netcls(self) -> ClassidMatch | None:
        """The net_cls tag the installer must write before these rules can match."""
        for chain in self.chains:
            for rule in chain.rules:
                if isinstance(rule.cgroup, ClassidMatch):
                    return rule.cgroup
        return None

    def as_data(self) -> dict[str, Any]:
        """A JSON-ready view, used for golden files and `rules show --rendered`."""
        return asdict(self)


def render(spec: RuleSpec) -> RuleSet:
    """Build the rule set for `spec`; chains without rules are left out."""
    guard = spec.proxy4 is not None and spec.proxy4.loopback and not spec.fail_closed_only

    def pod_jumps(chain: str, family: Family | None = None) -> tuple[Rule, ...]:
        return tuple(
            Rule(Verdict("jump", chain), family=family, iif=pattern)
            for pattern in spec.pod_interfaces
        )

    def cgroup_jumps(chain: str) -> tuple[Rule, ...]:
        return _cgroup_rules(spec, chain)

    chains: list[Chain] = []
    if not spec.fail_closed_only:
        chains += [
            Chain("nat_prerouting", "nat", pod_jumps("to_proxy"), "prerouting", NAT_PRIORITY),
            Chain("nat_output", "nat", cgroup_jumps("to_proxy"), "output", NAT_PRIORITY),
            Chain("to_proxy", "nat", _redirect_rules(spec)),
        ]
    chains += [
        Chain("filter_forward", "filter", pod_jumps("refuse_metadata"), "forward", FILTER_PRIORITY),
        Chain(
            "filter_output", "filter", cgroup_jumps("refuse_metadata"), "output", FILTER_PRIORITY
        ),
        Chain("refuse_metadata", "filter", _refuse_rules()),
    ]
    if guard and spec.proxy4 is not None:
        chains += [
            Chain(
                "filter_input", "filter", pod_jumps("localnet_guard", 4), "input", FILTER_PRIORITY
            ),
            Chain("localnet_guard", "filter", _guard_rules(spec.proxy4)),
        ]
    kept = tuple(_with_comments(chain) for chain in chains if chain.rules)
    return RuleSet(chains=kept, localnet_guard=guard)


def _cgroup_rules(spec: RuleSpec, chain: str) -> tuple[Rule, ...]:
    if spec.pod_cgroup is None:
        return ()
    exempt = tuple(Rule(Verdict("return"), cgroup=group) for group in spec.exempt_cgroups)
    return (*exempt, Rule(Verdict("jump", chain), cgroup=spec.pod_cgroup))


def _redirect_rules(spec: RuleSpec) -> tuple[Rule, ...]:
    rules = []
    for endpoint in endpoints.redirected(spec.provider):
        proxy = spec.proxy4 if endpoint.family == 4 else spec.proxy6
        if proxy is None:
            continue  # that family stays refused by `refuse_metadata`
        rules.append(
            Rule(
                Verdict("dnat", proxy.host, proxy.port),
                family=endpoint.family,
                daddr=(endpoint.address,),
                proto="tcp",
                dport=endpoint.port,
            )
        )
    return tuple(rules)


def _refuse_rules() -> tuple[Rule, ...]:
    families: tuple[tuple[Family, tuple[str, ...]], ...] = (
        (4, endpoints.METADATA_V4),
        (6, endpoints.METADATA_V6),
    )
    # Replies to connections opened *towards* the pod (load-balancer probes from
    # WireServer): the pod did not originate them, so they are not metadata access.
    replies = Rule(Verdict("return"), proto="tcp", ct_reply=True)
    dns = [
        Rule(Verdict("return"), family=family, daddr=addrs, proto=proto, dport=DNS_PORT)
        for family, addrs in families
        for proto in ("udp", "tcp")
    ]
    refuse = [
        rule
        for family, addrs in families
        for rule in (
            Rule(Verdict("reject_tcp"), family=family, daddr=addrs, proto="tcp"),
            Rule(Verdict("reject"), family=family, daddr=addrs),
        )
    ]
    return (replies, *dns, *refuse)


def _guard_rules(proxy: HostPort) -> tuple[Rule, ...]:
    return (
        Rule(
            Verdict("return"),
            family=4,
            daddr=(proxy.host,),
            proto="tcp",
            dport=proxy.port,
            ct_dnat=True,
        ),
        Rule(Verdict("drop"), family=4, daddr=("127.0.0.0/8",)),
    )


def _with_comments(chain: Chain) -> Chain:
    rules = tuple(_commented(chain.name, rule) for rule in chain.rules)
    return Chain(chain.name, chain.table, rules, chain.hook, chain.priority)


def _commented(chain: str, rule: Rule) -> Rule:
    """Stamp a rule with a digest of its content (the drift detector's handle)."""
    body = asdict(rule)
    body.pop("comment")
    digest = hashlib.sha256(json.dumps([chain, body], sort_keys=True).encode()).hexdigest()
    return replace(rule, comment=f"{COMMENT_PREFIX}{digest[:16]}")
