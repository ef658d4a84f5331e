"""Reading Role, ClusterRole, RoleBinding and ClusterRoleBinding (rbac.authorization.k8s.io/v1).

The shapes are checked, not the API server's semantic validation (a rule with
both resources and nonResourceURLs is evaluated as upstream evaluates it, which
is also what upstream's own authorizer tests rely on). What cannot be read is
an RbacError naming the object and the key, e.g.
`RoleBinding ns/b: subjects[0].kind: expected User, Group or ServiceAccount`,
because an RBAC object skipped in silence would change who may do what.
A Role or RoleBinding without a namespace is in `default`, as kubectl would put it.
Objects of other kinds, or of the same kinds in another API group, are not RBAC
and are left alone; `rbac.authorization.k8s.io` versions other than v1 were
removed in Kubernetes 1.22 and are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.rbac import aggregation
from podwarden.rbac.rules import Rule
from podwarden.rbac.subjects import SUBJECT_KINDS, Subject

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
DEFAULT_NAMESPACE = "default"


class RbacError(ValueError):
    """An RBAC object could not be understood; the message names the object and key."""


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (`namespace` set) or a ClusterRoleBinding (`namespace` None)."""

    name: str
    namespace: str | None
    role_kind: str  # Role | ClusterRole
    role_name: str
    subjects: tuple[Subject, ...]

    @property
    def kind(self) -> str:
        return "ClusterRoleBinding" if self.namespace is None else "RoleBinding"

    def describe(self, subject: Subject) -> str:
        """As upstream's binding describers, e.g.
        `RoleBinding "b/ns" of ClusterRole "edit" to ServiceAccount "sa/ns"`."""
        name = self.name if self.namespace is None else f"{self.name}/{self.namespace}"
        return (
            f'{self.kind} "{name}" of {self.role_kind} "{self.role_name}" to '
            f"{subject.describe(self.namespace or '')}"
        )


@dataclass(frozen=True, slots=True)
class Objects:
    """Everything RBAC needs, with ClusterRoles already aggregated."""

    roles: Mapping[tuple[str, str], tuple[Rule, ...]]  # (namespace, name)
    cluster_roles: Mapping[str, tuple[Rule, ...]]
    bindings: tuple[Binding, ...]


def is_rbac_object(doc: Mapping[str, Any]) -> bool:
    """One of the four kinds in the RBAC group (no apiVersion at all counts as v1)."""
    if doc.get("kind") not in RBAC_KINDS:
        return False
    api_version = doc.get("apiVersion")
    return api_version is None or str(api_version).partition("/")[0] == GROUP


def where(doc: Mapping[str, Any]) -> str:
    raw = doc.get("metadata")
    meta: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    ns = meta.get("namespace")
    return f"{doc.get('kind')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def load(docs: Iterable[Mapping[str, Any]]) -> Objects:
    """Read every RBAC object of `docs` (others are skipped); RbacError on the first
    one that cannot be read."""
    roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
    cluster_roles: dict[str, aggregation.ClusterRoleSource] = {}
    bindings: dict[tuple[str, str], Binding] = {}
    for doc in docs:
        if not isinstance(doc, Mapping) or not is_rbac_object(doc):
            continue
        if doc.get("apiVersion") not in (None, API_VERSION):
            raise RbacError(
                f"{where(doc)}: apiVersion: expected {API_VERSION} "
                "(v1beta1 and v1alpha1 were removed in Kubernetes 1.22)"
            )
        kind, name, namespace = _identity(doc)
        key = (namespace, name)
        if kind == "Role":
            _unique(doc, key in roles)
            roles[key] = _rules(doc)
        elif kind == "ClusterRole":
            _unique(doc, name in cluster_roles)
            cluster_roles[name] = aggregation.ClusterRoleSource(
                labels=_labels(doc), rules=_rules(doc), selectors=_selectors(doc)
            )
        else:
            binding = _binding(doc, kind, name, namespace)
            bkey = (binding.namespace or "", name)
            _unique(doc, bkey in bindings)
            bindings[bkey] = binding
    return Objects(
        roles=roles,
        cluster_roles=aggregation.aggregate(cluster_roles),
        bindings=tuple(bindings.values()),
    )


def _identity(doc: Mapping[str, Any]) -> tuple[str, str, str]:
    kind = str(doc.get("kind"))
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping):
        raise RbacError(f"{where(doc)}: metadata: expected a mapping with a name")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise RbacError(f"{where(doc)}: metadata.name: required")
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(namespace, str):
        raise RbacError(f"{where(doc)}: metadata.namespace: expected a string")
    cluster_scoped = kind in ("ClusterRole", "ClusterRoleBinding")
    return kind, name, "" if cluster_scoped else namespace


def _unique(doc: Mapping[str, Any], seen: bool) -> None:
    if seen:
        raise RbacError(f"{where(doc)}: metadata.name: defined twice")


def _strings(doc: Mapping[str, Any], value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RbacError(f"{where(doc)}: {key}: expected a list of strings")
    return tuple(value)


def _list(doc: Mapping[str, Any], value: Any, key: str) -> list[Any]:
    """An optional list (absent or null: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RbacError(f"{where(doc)}: {key}: expected a list")
    return value


def _rules(doc: Mapping[str, Any]) -> tuple[Rule, ...]:
    parsed = []
    for index, rule in enumerate(_list(doc, doc.get("rules"), "rules")):
        key = f"rules[{index}]"
        if not isinstance(rule, Mapping):
            raise RbacError(f"{where(doc)}: {key}: expected a mapping")
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


def _labels(doc: Mapping[str, Any]) -> dict[str, str]:
    labels = (doc.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise RbacError(f"{where(doc)}: metadata.labels: expected a mapping of strings")
    return dict(labels)


def _selectors(doc: Mapping[str, Any]) -> tuple[aggregation.Selector, ...] | None:
    rule = doc.get("aggregationRule")
    if rule is None:
        return None
    raw = rule.get("clusterRoleSelectors") if isinstance(rule, Mapping) else None
    if not isinstance(raw, list) or not raw:
        raise RbacError(
            f"{where(doc)}: aggregationRule.clusterRoleSelectors: expected a list of at least "
            "one label selector"
        )
    return tuple(
        _selector(doc, s, f"aggregationRule.clusterRoleSelectors[{i}]") for i, s in enumerate(raw)
    )


def _selector(doc: Mapping[str, Any], raw: Any, key: str) -> aggregation.Selector:
    if not isinstance(raw, Mapping):
        raise RbacError(f"{where(doc)}: {key}: expected a label selector (a mapping)")
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise RbacError(f"{where(doc)}: {key}.matchLabels: expected a mapping of strings")
    found = [aggregation.Requirement(k, "In", frozenset({v})) for k, v in labels.items()]
    expressions = _list(doc, raw.get("matchExpressions"), f"{key}.matchExpressions")
    for index, expression in enumerate(expressions):
        found.append(_requirement(doc, expression, f"{key}.matchExpressions[{index}]"))
    return aggregation.Selector(tuple(found))


def _requirement(doc: Mapping[str, Any], raw: Any, key: str) -> aggregation.Requirement:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str) or not raw["key"]:
        raise RbacError(f"{where(doc)}: {key}.key: required")
    operator = raw.get("operator")
    if operator not in aggregation.OPERATORS:
        accepted = ", ".join(aggregation.OPERATORS)
        raise RbacError(f"{where(doc)}: {key}.operator: {operator!r} (accepted: {accepted})")
    values = _strings(doc, raw.get("values"), f"{key}.values")
    if operator in ("In", "NotIn") and not values:
        raise RbacError(f"{where(doc)}: {key}.values: required for operator {operator}")
    if operator in ("Exists", "DoesNotExist") and values:
        raise RbacError(f"{where(doc)}: {key}.values: must be empty for operator {operator}")
    return aggregation.Requirement(str(raw["key"]), str(operator), frozenset(values))


def _binding(doc: Mapping[str, Any], kind: str, name: str, namespace: str) -> Binding:
    cluster = kind == "ClusterRoleBinding"
    ref = doc.get("roleRef")
    if not isinstance(ref, Mapping) or ref.get("kind") not in ("Role", "ClusterRole"):
        raise RbacError(f"{where(doc)}: roleRef.kind: expected Role or ClusterRole")
    if cluster and ref.get("kind") == "Role":
        raise RbacError(f"{where(doc)}: roleRef.kind: a ClusterRoleBinding needs a ClusterRole")
    if ref.get("apiGroup") not in (None, GROUP):
        raise RbacError(f"{where(doc)}: roleRef.apiGroup: expected {GROUP}")
    role_name = ref.get("name")
    if not isinstance(role_name, str) or not role_name:
        raise RbacError(f"{where(doc)}: roleRef.name: required")
    subjects = []
    for index, subject in enumerate(_list(doc, doc.get("subjects"), "subjects")):
        key = f"subjects[{index}]"
        if not isinstance(subject, Mapping) or subject.get("kind") not in SUBJECT_KINDS:
            raise RbacError(f"{where(doc)}: {key}.kind: expected User, Group or ServiceAccount")
        subject_name = subject.get("name")
        if not isinstance(subject_name, str) or not subject_name:
            raise RbacError(f"{where(doc)}: {key}.name: required")
        subject_ns = subject.get("namespace") or ""
        if not isinstance(subject_ns, str):
            raise RbacError(f"{where(doc)}: {key}.namespace: expected a string")
        if subject["kind"] == "ServiceAccount" and cluster and not subject_ns:
            raise RbacError(
                f"{where(doc)}: {key}.namespace: required for a ServiceAccount in a "
                "ClusterRoleBinding"
            )
        subjects.append(Subject(str(subject["kind"]), subject_name, subject_ns))
    return Binding(
        name=name,
        namespace=None if cluster else namespace,
        role_kind=str(ref["kind"]),
        role_name=role_name,
        subjects=tuple(subjects),
    )
