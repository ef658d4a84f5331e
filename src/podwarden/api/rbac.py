"""RBAC as the Kubernetes RBAC authorizer evaluates it: rules, roles, bindings, subjects.

Used by the node authorizer for its static `system:node` rules (upstream's
`rbac.RulesAllow`) and by the blast-radius report, which asks what a service
account may do. Semantics (plugin/pkg/auth/authorizer/rbac): `*` matches any verb,
group, resource or non-resource URL; a rule resource `*/status` matches the status
subresource of anything; resourceNames narrow a rule to named objects; a
non-resource URL ending in `*` matches by prefix; a RoleBinding grants only in its
namespace, a ClusterRoleBinding everywhere; ClusterRoles with an aggregationRule
collect the rules of the ClusterRoles their matchLabels select; `system:masters`
may do anything. Malformed objects raise RbacError naming the object and key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podwarden.api.authorization import Attributes

RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
SA_PREFIX = "system:serviceaccount:"
ALL = "*"


class RbacError(ValueError):
    """An RBAC object could not be understood; the message names the object and key."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One PolicyRule."""

    verbs: frozenset[str]
    api_groups: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    resource_names: frozenset[str] = frozenset()
    non_resource_urls: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        verbs: Iterable[str],
        *,
        groups: Iterable[str] = (),
        resources: Iterable[str] = (),
        names: Iterable[str] = (),
        urls: Iterable[str] = (),
    ) -> Rule:
        return cls(
            frozenset(verbs), frozenset(groups), frozenset(resources), frozenset(names),
            frozenset(urls),
        )  # fmt: skip

    def allows(self, attrs: Attributes) -> bool:
        """upstream RuleAllows."""
        if ALL not in self.verbs and attrs.verb not in self.verbs:
            return False
        if not attrs.resource_request:
            return any(
                url == ALL
                or url == attrs.path
                or (url.endswith("*") and attrs.path.startswith(url[:-1]))
                for url in self.non_resource_urls
            )
        if ALL not in self.api_groups and attrs.api_group not in self.api_groups:
            return False
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        if not (
            ALL in self.resources
            or combined in self.resources
            or (attrs.subresource and f"*/{attrs.subresource}" in self.resources)
        ):
            return False
        return not self.resource_names or attrs.name in self.resource_names


def rules_allow(attrs: Attributes, rules: Iterable[Rule]) -> bool:
    """True when any rule allows the request."""
    return any(rule.allows(attrs) for rule in rules)


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # User | Group | ServiceAccount
    name: str
    namespace: str = ""

    def matches(self, user: str, groups: Sequence[str]) -> bool:
        if self.kind == "User":
            return bool(user) and self.name == user
        if self.kind == "Group":
            return self.name in groups
        return bool(self.namespace) and user == f"{SA_PREFIX}{self.namespace}:{self.name}"


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (namespace set) or ClusterRoleBinding (namespace None)."""

    name: str
    namespace: str | None
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]


def _where(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{doc.get('kind')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def _strings(doc: Mapping[str, Any], value: Any, key: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RbacError(f"{_where(doc)}: {key}: expected a list of strings")
    return frozenset(value)


def parse_rules(doc: Mapping[str, Any]) -> tuple[Rule, ...]:
    """The `rules` of a Role or ClusterRole."""
    rules = doc.get("rules") or []
    if not isinstance(rules, list):
        raise RbacError(f"{_where(doc)}: rules: expected a list")
    parsed = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise RbacError(f"{_where(doc)}: rules[{index}]: expected a mapping")
        key = f"rules[{index}]"
        parsed.append(
            Rule(
                verbs=_strings(doc, rule.get("verbs"), f"{key}.verbs"),
                api_groups=_strings(doc, rule.get("apiGroups"), f"{key}.apiGroups"),
                resources=_strings(doc, rule.get("resources"), f"{key}.resources"),
                resource_names=_strings(doc, rule.get("resourceNames"), f"{key}.resourceNames"),
                non_resource_urls=_strings(
                    doc, rule.get("nonResourceURLs"), f"{key}.nonResourceURLs"
                ),
            )
        )
    return tuple(parsed)


def parse_binding(doc: Mapping[str, Any]) -> Binding:
    """A RoleBinding or ClusterRoleBinding."""
    kind = doc.get("kind")
    meta = doc.get("metadata") or {}
    namespace = None if kind == "ClusterRoleBinding" else str(meta.get("namespace") or "default")
    ref = doc.get("roleRef")
    if not isinstance(ref, Mapping) or ref.get("kind") not in ("Role", "ClusterRole"):
        raise RbacError(f"{_where(doc)}: roleRef.kind: expected Role or ClusterRole")
    if namespace is None and ref.get("kind") == "Role":
        raise RbacError(f"{_where(doc)}: roleRef.kind: a ClusterRoleBinding needs a ClusterRole")
    subjects = []
    for index, subject in enumerate(doc.get("subjects") or []):
        if not isinstance(subject, Mapping) or subject.get("kind") not in (
            "User",
            "Group",
            "ServiceAccount",
        ):
            raise RbacError(
                f"{_where(doc)}: subjects[{index}].kind: expected User, Group or ServiceAccount"
            )
        subject_ns = str(subject.get("namespace") or namespace or "")
        subjects.append(Subject(str(subject["kind"]), str(subject.get("name", "")), subject_ns))
    return Binding(
        str(meta.get("name", "")), namespace, str(ref["kind"]), str(ref.get("name", "")),
        tuple(subjects),
    )  # fmt: skip


class Rbac:
    """Roles, ClusterRoles and their bindings, answering "may this user do that?"."""

    def __init__(
        self,
        *,
        roles: Mapping[tuple[str, str], tuple[Rule, ...]],
        cluster_roles: Mapping[str, tuple[Rule, ...]],
        bindings: Sequence[Binding],
    ) -> None:
        self.roles = dict(roles)
        self.cluster_roles = dict(cluster_roles)
        self.bindings = tuple(bindings)

    @classmethod
    def from_objects(cls, docs: Iterable[Mapping[str, Any]]) -> Rbac:
        """Build from any objects; kinds other than the four RBAC kinds are ignored."""
        roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        cluster_roles: dict[str, tuple[Rule, ...]] = {}
        labels: dict[str, Mapping[str, str]] = {}
        aggregations: dict[str, list[Mapping[str, str]]] = {}
        bindings: list[Binding] = []
        for doc in docs:
            kind = doc.get("kind")
            if kind not in RBAC_KINDS:
                continue
            meta = doc.get("metadata") or {}
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                raise RbacError(f"{_where(doc)}: metadata.name: required")
            if kind == "Role":
                roles[(str(meta.get("namespace") or "default"), name)] = parse_rules(doc)
            elif kind == "ClusterRole":
                cluster_roles[name] = parse_rules(doc)
                labels[name] = meta.get("labels") or {}
                selectors = (doc.get("aggregationRule") or {}).get("clusterRoleSelectors")
                if selectors:
                    aggregations[name] = [s.get("matchLabels") or {} for s in selectors]
            else:
                bindings.append(parse_binding(doc))
        for name, selectors in aggregations.items():
            collected = list(cluster_roles[name])
            for other, other_labels in labels.items():
                if other != name and any(
                    sel and all(other_labels.get(k) == v for k, v in sel.items())
                    for sel in selectors
                ):
                    collected.extend(cluster_roles[other])
            cluster_roles[name] = tuple(collected)
        return cls(roles=roles, cluster_roles=cluster_roles, bindings=bindings)

    def grants(self, user: str, groups: Sequence[str]) -> list[tuple[Binding, tuple[Rule, ...]]]:
        """Every binding naming the user (or one of its groups), with its role's rules."""
        found = []
        for binding in self.bindings:
            if not any(s.matches(user, groups) for s in binding.subjects):
                continue
            if binding.role_kind == "Role":
                rules = self.roles.get((binding.namespace or "", binding.role_name), ())
            else:
                rules = self.cluster_roles.get(binding.role_name, ())
            found.append((binding, rules))
        return found

    def allows(self, attrs: Attributes) -> Binding | None:
        """The binding that allows the request (None: RBAC has no rule for it)."""
        if "system:masters" in attrs.groups:
            return MASTERS
        for binding, rules in self.grants(attrs.user, attrs.groups):
            if binding.namespace is not None and binding.namespace != attrs.namespace:
                continue
            if rules_allow(attrs, rules):
                return binding
        return None


MASTERS = Binding("system:masters", None, "ClusterRole", "cluster-admin", ())
"""What allows everything to a member of system:masters (no object: it is compiled in)."""


def service_account_user(namespace: str, name: str) -> tuple[str, tuple[str, ...]]:
    """The user name and groups a service account's token authenticates as."""
    return (
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )
