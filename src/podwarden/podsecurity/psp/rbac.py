"""Who may `use` which PodSecurityPolicy, from RBAC objects (offline selection).

PSP asked the authorizer whether the requesting user, or the pod's service
account, may `use` the policy (resource `podsecuritypolicies`, group `policy`)
in the pod's namespace. With `--cluster-file` there is no authorizer, so this
module evaluates the same question over Role / ClusterRole / RoleBinding /
ClusterRoleBinding objects the way Kubernetes' RBAC authorizer does: a
RoleBinding grants only in its own namespace, a ClusterRoleBinding everywhere,
resourceNames narrow a rule to named policies, `*` matches any verb, group or
resource, ClusterRoles with an aggregationRule collect the rules of the
ClusterRoles their matchLabels select, and `system:masters` may do anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podwarden.config import ConfigError
from podwarden.podsecurity.psp.model import Policy

PSP_GROUPS = frozenset({"policy", "extensions", "policy.podwarden.io"})
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
SA_PREFIX = "system:serviceaccount:"


class RbacError(ConfigError):
    """An RBAC object could not be understood; the message names the object and key."""


@dataclass(frozen=True)
class _Rule:
    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]

    def grants_use(self, policy: str) -> bool:
        return (
            bool({"use", "*"} & self.verbs)
            and bool((PSP_GROUPS | {"*"}) & self.api_groups)
            and bool({"podsecuritypolicies", "*"} & self.resources)
            and (not self.resource_names or policy in self.resource_names)
        )


@dataclass(frozen=True)
class _Binding:
    namespace: str | None  # None for a ClusterRoleBinding
    role_kind: str
    role_name: str
    subjects: tuple[tuple[str, str, str], ...]  # (kind, name, namespace)


def _where(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{doc.get('kind')} {ns + '/' if ns else ''}{name}"


def _strings(doc: Mapping[str, Any], value: Any, key: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RbacError(f"{_where(doc)}: {key}: expected a list of strings")
    return frozenset(value)


def _rules(doc: Mapping[str, Any]) -> tuple[_Rule, ...]:
    rules = doc.get("rules") or []
    if not isinstance(rules, list):
        raise RbacError(f"{_where(doc)}: rules: expected a list")
    parsed = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise RbacError(f"{_where(doc)}: rules[{index}]: expected a mapping")
        key = f"rules[{index}]"
        parsed.append(
            _Rule(
                verbs=_strings(doc, rule.get("verbs"), f"{key}.verbs"),
                api_groups=_strings(doc, rule.get("apiGroups"), f"{key}.apiGroups"),
                resources=_strings(doc, rule.get("resources"), f"{key}.resources"),
                resource_names=_strings(doc, rule.get("resourceNames"), f"{key}.resourceNames"),
            )
        )
    return tuple(parsed)


class Rbac:
    """An immutable view of RBAC objects answering `can_use` for PSP selection."""

    def __init__(
        self,
        *,
        roles: Mapping[tuple[str, str], tuple[_Rule, ...]],
        cluster_roles: Mapping[str, tuple[_Rule, ...]],
        bindings: Sequence[_Binding],
        allow_everything: bool = False,
    ) -> None:
        self._roles = dict(roles)
        self._cluster_roles = dict(cluster_roles)
        self._bindings = tuple(bindings)
        self._allow_everything = allow_everything

    @classmethod
    def allow_all(cls) -> Rbac:
        """Every policy usable by everyone (no RBAC objects were given)."""
        return cls(roles={}, cluster_roles={}, bindings=(), allow_everything=True)

    @classmethod
    def from_objects(cls, docs: Iterable[Mapping[str, Any]]) -> Rbac:
        """Build from any objects; kinds other than the four RBAC kinds are ignored."""
        roles: dict[tuple[str, str], tuple[_Rule, ...]] = {}
        cluster_roles: dict[str, tuple[_Rule, ...]] = {}
        labels: dict[str, Mapping[str, str]] = {}
        aggregations: dict[str, list[Mapping[str, str]]] = {}
        bindings: list[_Binding] = []
        for doc in docs:
            kind = doc.get("kind")
            if kind not in RBAC_KINDS:
                continue
            meta = doc.get("metadata") or {}
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                raise RbacError(f"{_where(doc)}: metadata.name: required")
            namespace = meta.get("namespace") or "default"
            if kind == "Role":
                roles[(namespace, name)] = _rules(doc)
            elif kind == "ClusterRole":
                cluster_roles[name] = _rules(doc)
                labels[name] = meta.get("labels") or {}
                selectors = (doc.get("aggregationRule") or {}).get("clusterRoleSelectors")
                if selectors:
                    aggregations[name] = [s.get("matchLabels") or {} for s in selectors]
            else:
                bindings.append(_binding(doc, None if kind == "ClusterRoleBinding" else namespace))
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

    def can_use(
        self,
        policy: str | Policy,
        *,
        user: str,
        groups: Sequence[str] = (),
        service_account: str | None = None,
        namespace: str,
    ) -> bool:
        """May the user, or the pod's service account, `use` `policy` in `namespace`?

        `service_account` is the pod's serviceAccountName (in `namespace`) or a full
        `system:serviceaccount:<ns>:<name>` user name.
        """
        name = policy.name if isinstance(policy, Policy) else policy
        identities = [(user, tuple(groups))]
        if service_account:
            sa_user = (
                service_account
                if service_account.startswith(SA_PREFIX)
                else f"{SA_PREFIX}{namespace}:{service_account}"
            )
            sa_ns = sa_user[len(SA_PREFIX) :].split(":", 1)[0]
            sa_groups = ("system:serviceaccounts", f"system:serviceaccounts:{sa_ns}")
            identities.insert(0, (sa_user, (*sa_groups, "system:authenticated")))
        return any(self._allowed(name, u, g, namespace) for u, g in identities)

    def _allowed(self, policy: str, user: str, groups: Sequence[str], namespace: str) -> bool:
        if self._allow_everything or "system:masters" in groups:
            return True
        for binding in self._bindings:
            if binding.namespace is not None and binding.namespace != namespace:
                continue
            if not any(_subject_matches(s, user, groups) for s in binding.subjects):
                continue
            if binding.role_kind == "Role":
                rules = self._roles.get((binding.namespace or "", binding.role_name), ())
            else:
                rules = self._cluster_roles.get(binding.role_name, ())
            if any(rule.grants_use(policy) for rule in rules):
                return True
        return False


def _binding(doc: Mapping[str, Any], namespace: str | None) -> _Binding:
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
        subjects.append((str(subject["kind"]), str(subject.get("name", "")), subject_ns))
    return _Binding(namespace, str(ref["kind"]), str(ref.get("name", "")), tuple(subjects))


def _subject_matches(subject: tuple[str, str, str], user: str, groups: Sequence[str]) -> bool:
    kind, name, namespace = subject
    if kind == "User":
        return bool(user) and name == user
    if kind == "Group":
        return name in groups
    return bool(namespace) and user == f"{SA_PREFIX}{namespace}:{name}"
