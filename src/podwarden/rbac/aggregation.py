"""ClusterRole aggregation: label selectors, and the rules an aggregated role ends up with.

Upstream, the clusterrole-aggregation controller
(pkg/controller/clusterroleaggregation) rewrites the `rules` of every ClusterRole
that has an aggregationRule: for each clusterRoleSelector in order, the selected
ClusterRoles sorted by name (never the role itself), their rules appended unless
an equal rule is already there. The role's own rules are *replaced*, not kept.
Roles aggregating aggregated roles (admin <- edit <- view) see the others'
aggregated rules, so this module iterates to the fixed point the controller
converges to.

Selectors are metav1.LabelSelector: matchLabels, and matchExpressions with In,
NotIn, Exists and DoesNotExist (LabelSelectorAsSelector); a selector with neither
selects every ClusterRole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from podwarden.rbac.rules import Rule

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str  # one of OPERATORS
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        return not present  # DoesNotExist


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed label selector: matchLabels become `In` requirements of one value."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


@dataclass(frozen=True, slots=True)
class ClusterRoleSource:
    """A ClusterRole as stored: its labels, its own rules, its selectors (None: not
    aggregated)."""

    labels: Mapping[str, str]
    rules: tuple[Rule, ...]
    selectors: tuple[Selector, ...] | None = None


def aggregate(roles: Mapping[str, ClusterRoleSource]) -> dict[str, tuple[Rule, ...]]:
    """The effective rules of every ClusterRole, aggregated ones as the controller
    leaves them."""
    effective = {name: role.rules for name, role in roles.items()}
    aggregated = sorted(name for name, role in roles.items() if role.selectors is not None)
    by_name = sorted(roles)
    for _ in range(len(aggregated) + 1):  # each pass settles at least one more level
        changed = False
        for name in aggregated:
            collected: list[Rule] = []
            for selector in roles[name].selectors or ():
                for other in by_name:
                    if other == name or not selector.matches(roles[other].labels):
                        continue
                    for rule in effective[other]:
                        if rule not in collected:
                            collected.append(rule)
            if tuple(collected) != effective[name]:
                effective[name] = tuple(collected)
                changed = True
        if not changed:
            break
    return effective
