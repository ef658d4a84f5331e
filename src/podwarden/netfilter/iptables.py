"""The iptables backend: our own PODWARDEN-* chains, hooked with one jump each.

For nodes whose kube-proxy and CNI still use iptables-legacy, where an nft
table would be invisible to them and theirs to us. Each family is applied with
one `iptables-restore --noflush` transaction: declaring our chains in the
batch flushes and refills them, the built-in chains only gain a single jump
(inserted first, so an earlier ACCEPT cannot skip the refusal) when it is not
already there, and nothing else is read or written.

The jump must stay rule 1 of its built-in chain: a rule inserted above it
(`-I FORWARD 1 -j ACCEPT`) would let pod traffic past the refusal. So the
signature records each jump with its position (`podwarden:jump-x@1`), a jump
anywhere else is drift, and the repair deletes it and inserts it first again.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any, Literal

from podwarden.netfilter.render import Chain, ClassidMatch, Family, Rule, RuleSet
from podwarden.netfilter.runner import Runner

Variant = Literal["auto", "nft", "legacy"]
Signature = dict[str, Any]
CHAIN_PREFIX = "PODWARDEN-"
BUILTIN = {"prerouting": "PREROUTING", "input": "INPUT", "forward": "FORWARD", "output": "OUTPUT"}
TABLES = ("nat", "filter")


def chain_name(chain: str) -> str:
    return CHAIN_PREFIX + chain.upper().replace("_", "-")


def jump_comment(chain: Chain) -> str:
    return f"podwarden:jump-{chain.name}"


def jump_spec(chain: Chain) -> str:
    """The jump from the built-in chain (without -A/-I/-D and the chain)."""
    return f"-m comment --comment {jump_comment(chain)} -j {chain_name(chain.name)}"


def rule_lines(chain: str, rule: Rule, family: Family) -> list[str]:
    """`-A` lines of one rule for one family; several when it names several addresses."""
    if rule.family is not None and rule.family != family:
        return []
    head = [f"-A {chain_name(chain)}"]
    if rule.iif is not None:
        head.append(f"-i {rule.iif}")
    if isinstance(rule.cgroup, ClassidMatch):
        head.append(f"-m cgroup --cgroup {rule.cgroup.classid}")
    elif rule.cgroup is not None:
        head.append(f"-m cgroup --path /{rule.cgroup.path}")
    tail: list[str] = []
    if rule.proto is not None:
        tail.append(f"-p {rule.proto}")
        if rule.dport:
            tail.append(f"-m {rule.proto} --dport {rule.dport}")
    if rule.ct_dnat:
        tail.append("-m conntrack --ctstate DNAT")
    if rule.ct_reply:
        tail.append("-m conntrack --ctdir REPLY")
    tail.append(f"-m comment --comment {rule.comment}")
    tail.append(_target(rule, family))
    addresses = rule.daddr or ("",)
    return [
        " ".join([*head, *([f"-d {address}"] if address else []), *tail]) for address in addresses
    ]


def _target(rule: Rule, family: Family) -> str:
    verdict = rule.verdict
    if verdict.kind == "jump":
        return f"-j {chain_name(verdict.target)}"
    if verdict.kind == "dnat":
        host = f"[{verdict.target}]" if family == 6 else verdict.target
        return f"-j DNAT --to-destination {host}:{verdict.port}"
    if verdict.kind == "reject_tcp":
        return "-j REJECT --reject-with tcp-reset"
    if verdict.kind == "reject":
        kind = "icmp-admin-prohibited" if family == 4 else "icmp6-adm-prohibited"
        return f"-j REJECT --reject-with {kind}"
    return "-j RETURN" if verdict.kind == "return" else "-j DROP"


def _chains(ruleset: RuleSet, table: str, family: Family) -> list[Chain]:
    """Every chain of `table`, declared for both families even when one has no rules
    there (an IPv4-only redirect chain is still jumped to from the IPv6 hook)."""
    del family
    return [chain for chain in ruleset.chains if chain.table == table]


def expected_signature(ruleset: RuleSet, family: Family) -> Signature:
    """What `live_signature` returns for `family` when the live rules are `ruleset`."""
    signature: Signature = {}
    for table in TABLES:
        for chain in _chains(ruleset, table, family):
            comments = [
                line.split("--comment ")[1].split()[0]
                for rule in chain.rules
                for line in rule_lines(chain.name, rule, family)
            ]
            signature[f"{table}/{chain_name(chain.name)}"] = comments
            if chain.hook is not None:
                key = f"{table}/{BUILTIN[chain.hook]}"
                signature.setdefault(key, []).append(f"{jump_comment(chain)}@1")
    return signature


def _jumps(entries: list[str]) -> list[str]:
    """The jump comments of a built-in chain's signature, without their positions."""
    return [entry.rsplit("@", 1)[0] for entry in entries]


def restore_script(ruleset: RuleSet, family: Family, live: Signature) -> str:
    """The `--noflush` batch for one family, given what is live now."""
    out: list[str] = []
    for table in TABLES:
        chains = _chains(ruleset, table, family)
        names = {chain_name(chain.name) for chain in chains}
        stale = [
            key.split("/", 1)[1]
            for key in live
            if key.startswith(f"{table}/{CHAIN_PREFIX}") and key.split("/", 1)[1] not in names
        ]
        out.append(f"*{table}")
        out.extend(f":{name} - [0:0]" for name in [*sorted(names), *stale])
        for chain in chains:
            for rule in chain.rules:
                out.extend(rule_lines(chain.name, rule, family))
            if chain.hook is None:
                continue
            builtin = BUILTIN[chain.hook]
            entries = live.get(f"{table}/{builtin}", [])
            mine = [e for e in entries if e.rsplit("@", 1)[0] == jump_comment(chain)]
            if mine != [f"{jump_comment(chain)}@1"]:  # missing, moved down or duplicated
                out.extend(f"-D {builtin} {jump_spec(chain)}" for _ in mine)
                out.append(f"-I {builtin} 1 {jump_spec(chain)}")
        for name in stale:
            for key, comments in live.items():
                if key.startswith(f"{table}/") and not key.split("/", 1)[1].startswith(
                    CHAIN_PREFIX
                ):
                    jump = _jump_comment_of(name)
                    if jump in _jumps(comments):
                        out.append(
                            f"-D {key.split('/', 1)[1]} -m comment --comment {jump} -j {name}"
                        )
            out.append(f"-X {name}")
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def _jump_comment_of(iptables_chain: str) -> str:
    plain = iptables_chain.removeprefix(CHAIN_PREFIX).lower().replace("-", "_")
    return f"podwarden:jump-{plain}"


def removal_script(live: Signature) -> str:
    """The batch that deletes our jumps and chains, whatever is live."""
    out: list[str] = []
    for table in TABLES:
        ours = [k.split("/", 1)[1] for k in live if k.startswith(f"{table}/{CHAIN_PREFIX}")]
        out.append(f"*{table}")
        for key, comments in live.items():
            builtin = key.split("/", 1)[1]
            if not key.startswith(f"{table}/") or builtin.startswith(CHAIN_PREFIX):
                continue
            for comment in _jumps(comments):
                target = chain_name(comment.removeprefix("podwarden:jump-"))
                out.append(f"-D {builtin} -m comment --comment {comment} -j {target}")
        out.extend(f":{name} - [0:0]" for name in ours)
        out.extend(f"-X {name}" for name in ours)
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def parse_save(text: str) -> Signature:
    """Our chains' rule comments and the built-ins' podwarden jumps, from *-save output.

    A jump is recorded with its position in the built-in chain (`…@1`)."""
    signature: Signature = {}
    table = ""
    positions: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(f":{CHAIN_PREFIX}"):
            signature.setdefault(f"{table}/{line[1:].split()[0]}", [])
        elif line.startswith("-A "):
            words = shlex.split(line)
            chain = words[1]
            key = f"{table}/{chain}"
            positions[key] = positions.get(key, 0) + 1
            comment = words[words.index("--comment") + 1] if "--comment" in words else ""
            if chain.startswith(CHAIN_PREFIX):
                signature.setdefault(key, []).append(comment)
            elif comment.startswith("podwarden:jump-"):
                signature.setdefault(key, []).append(f"{comment}@{positions[key]}")
    return signature


class IptablesBackend:
    """Apply, read back and remove PODWARDEN-* chains with iptables-restore."""

    name = "iptables"

    def __init__(self, *, variant: Variant = "auto", runner: Runner | None = None) -> None:
        self.variant = variant
        self.runner = runner or Runner()
        self.name = "iptables" if variant == "auto" else f"iptables-{variant}"

    def _tool(self, family: Family, suffix: str) -> str:
        base = "iptables" if family == 4 else "ip6tables"
        middle = "" if self.variant == "auto" else f"-{self.variant}"
        return f"{base}{middle}-{suffix}"

    def families(self) -> Iterator[Family]:
        yield 4
        yield 6

    def apply(self, ruleset: RuleSet) -> None:
        for family in self.families():
            live = self._live(family)
            self.runner.run(
                [self._tool(family, "restore"), "--noflush", "-w", "5"],
                stdin=restore_script(ruleset, family, live),
            )

    def remove(self) -> bool:
        found = False
        for family in self.families():
            live = self._live(family)
            if not any(key.split("/", 1)[1].startswith(CHAIN_PREFIX) for key in live) and not any(
                live.values()
            ):
                continue
            found = True
            self.runner.run(
                [self._tool(family, "restore"), "--noflush", "-w", "5"],
                stdin=removal_script(live),
            )
        return found

    def expected_signature(self, ruleset: RuleSet) -> Signature:
        return {str(f): expected_signature(ruleset, f) for f in self.families()}

    def live_signature(self) -> Signature | None:
        live = {str(f): self._live(f) for f in self.families()}
        return live if any(live.values()) else None

    def has_localnet_guard(self) -> bool:
        return f"filter/{chain_name('localnet_guard')}" in self._live(4)

    def _legacy_tables(self, family: Family) -> set[str]:
        """Legacy tables already instantiated in this namespace.

        Merely running iptables-legacy-save -t nat instantiates the table, so
        `show` and `remove` look here first and leave an unused world untouched.
        """
        names = "/proc/net/ip_tables_names" if family == 4 else "/proc/net/ip6_tables_names"
        proc = self.runner.run(["cat", names], check=False)
        return set(proc.stdout.split()) if proc.returncode == 0 else set()

    def show(self) -> str:
        sections = []
        for family in self.families():
            present = self._legacy_tables(family) if self.variant == "legacy" else set(TABLES)
            for table in TABLES:
                if table not in present:
                    continue
                proc = self.runner.run([self._tool(family, "save"), "-t", table], check=False)
                lines = [
                    line
                    for line in proc.stdout.splitlines()
                    if CHAIN_PREFIX in line or line.startswith("*")
                ]
                if len(lines) > 1:
                    sections.append(f"# IPv{family}\n" + "\n".join(lines))
        return "\n".join(sections) + ("\n" if sections else "")

    def _live(self, family: Family) -> Signature:
        out = []
        present = self._legacy_tables(family) if self.variant == "legacy" else set(TABLES)
        for table in TABLES:
            if table not in present:
                continue
            proc = self.runner.run([self._tool(family, "save"), "-t", table], check=False)
            out.append(proc.stdout if proc.returncode == 0 else "")
        return parse_save("\n".join(out))
