"""The nftables backend: one table of our own, replaced in one transaction.

The batch is `add table; delete table; table { … }` fed to `nft -f -`, which
nft applies atomically: no moment exists where the old rules are gone and the
new ones not in, and no other table is read or written. The native syntax is
used rather than `nft -j -f -` because nft 1.0.6's JSON parser cannot express
`socket cgroupv2 level N` (it drops the level), which the host-network rules
need; the live table is still read back as JSON (`nft -j list table`).
"""

from __future__ import annotations

import json
from typing import Any

from podwarden.netfilter.render import Chain, ClassidMatch, Rule, RuleSet
from podwarden.netfilter.runner import NetfilterError, Runner

TABLE_FAMILY = "inet"
TABLE_NAME = "podwarden"
TABLE = f"{TABLE_FAMILY} {TABLE_NAME}"

Signature = dict[str, Any]


def script(ruleset: RuleSet) -> str:
    """The nft batch that replaces our table with `ruleset`."""
    lines = [f"add table {TABLE}", f"delete table {TABLE}", f"table {TABLE} {{"]
    for chain in ruleset.chains:
        lines.append(f"\tchain {chain.name} {{")
        if chain.hook is not None:
            lines.append(
                f"\t\ttype {'nat' if chain.table == 'nat' else 'filter'} hook {chain.hook}"
                f" priority {chain.priority}; policy accept;"
            )
        lines.extend(f"\t\t{rule_text(rule)}" for rule in chain.rules)
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def rule_text(rule: Rule) -> str:
    """One rule in nft syntax."""
    parts: list[str] = []
    if rule.iif is not None:
        parts.append(f'iifname "{rule.iif.replace("+", "*")}"')
    if isinstance(rule.cgroup, ClassidMatch):
        parts.append(f"meta cgroup {rule.cgroup.classid}")
    elif rule.cgroup is not None:
        parts.append(f'socket cgroupv2 level {rule.cgroup.level} "{rule.cgroup.nft_path}"')
    if rule.daddr:
        selector = "ip" if rule.family == 4 else "ip6"
        addrs = rule.daddr[0] if len(rule.daddr) == 1 else "{ " + ", ".join(rule.daddr) + " }"
        parts.append(f"{selector} daddr {addrs}")
    elif rule.family is not None:
        parts.append(f"meta nfproto ipv{rule.family}")
    if rule.proto is not None:
        parts.append(
            f"{rule.proto} dport {rule.dport}" if rule.dport else f"meta l4proto {rule.proto}"
        )
    if rule.ct_dnat:
        parts.append("ct status dnat")
    if rule.ct_reply:
        parts.append("ct direction reply")
    parts.append(_verdict(rule))
    parts.append(f'comment "{rule.comment}"')
    return " ".join(parts)


def _verdict(rule: Rule) -> str:
    verdict = rule.verdict
    if verdict.kind == "jump":
        return f"jump {verdict.target}"
    if verdict.kind == "dnat":
        if rule.family == 6:
            return f"dnat ip6 to [{verdict.target}]:{verdict.port}"
        return f"dnat ip to {verdict.target}:{verdict.port}"
    if verdict.kind == "reject_tcp":
        return "reject with tcp reset"
    if verdict.kind == "reject":
        return "reject with icmpx admin-prohibited"
    return verdict.kind  # return, drop


def expected_signature(ruleset: RuleSet) -> Signature:
    """What `live_signature` returns when the live table is exactly `ruleset`."""
    return {
        chain.name: {"base": _base(chain), "rules": [rule.comment for rule in chain.rules]}
        for chain in ruleset.chains
    }


def _base(chain: Chain) -> list[Any] | None:
    if chain.hook is None:
        return None
    return ["nat" if chain.table == "nat" else "filter", chain.hook, chain.priority]


class NftBackend:
    """Apply, read back and remove the podwarden table with the `nft` tool."""

    name = "nft"

    def __init__(self, *, runner: Runner | None = None) -> None:
        self.runner = runner or Runner()

    def apply(self, ruleset: RuleSet) -> None:
        self.runner.run(["nft", "-f", "-"], stdin=script(ruleset))

    def remove(self) -> bool:
        """Delete our table; False when there was none."""
        if self._list_json() is None:
            return False
        self.runner.run(["nft", "delete", "table", TABLE_FAMILY, TABLE_NAME])
        return True

    def expected_signature(self, ruleset: RuleSet) -> Signature:
        return expected_signature(ruleset)

    def live_signature(self) -> Signature | None:
        """Chains and rule comments of the live table; None when it does not exist."""
        data = self._list_json()
        if data is None:
            return None
        signature: Signature = {}
        for item in data.get("nftables", []):
            if "chain" in item:
                chain = item["chain"]
                base = [chain["type"], chain["hook"], chain["prio"]] if "hook" in chain else None
                signature[chain["name"]] = {"base": base, "rules": []}
        for item in data.get("nftables", []):
            if "rule" in item:
                rule = item["rule"]
                signature[rule["chain"]]["rules"].append(rule.get("comment", ""))
        return signature

    def has_localnet_guard(self) -> bool:
        live = self.live_signature()
        return live is not None and "localnet_guard" in live

    def show(self) -> str:
        proc = self.runner.run(["nft", "list", "table", TABLE_FAMILY, TABLE_NAME], check=False)
        return proc.stdout if proc.returncode == 0 else ""

    def _list_json(self) -> dict[str, Any] | None:
        proc = self.runner.run(
            ["nft", "-j", "list", "table", TABLE_FAMILY, TABLE_NAME], check=False
        )
        if proc.returncode != 0:
            if "No such file" in proc.stderr or "does not exist" in proc.stderr:
                return None
            raise NetfilterError(f"nft list table {TABLE}: {proc.stderr.strip()}")
        try:
            data: dict[str, Any] = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise NetfilterError(f"nft -j list table {TABLE}: not JSON: {exc}") from None
        return data
