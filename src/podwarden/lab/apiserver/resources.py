"""The resource types the lab API server serves, as discovery describes them.

One table is the source of truth for routing, discovery documents
(APIResourceList), which field selectors each type supports, and which
subresources exist, so the three can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


def _get(obj: Mapping[str, Any], dotted: str) -> str:
    current: Any = obj
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


@dataclass(frozen=True)
class ResourceType:
    """One REST collection, e.g. core/v1 pods."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    extra_fields: frozenset[str] = frozenset()
    subresources: tuple[str, ...] = ()
    has_spec_generation: bool = True
    singular_name: str = ""  # a CRD's spec.names.singular; built-ins use kind.lower()
    printer_columns: tuple[tuple[str, str, str, int], ...] = ()
    """A CRD's additionalPrinterColumns as (name, type, jsonPath, priority)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    @property
    def fields(self) -> frozenset[str]:
        return COMMON_FIELDS | self.extra_fields

    def field_values(self, obj: Mapping[str, Any]) -> dict[str, str]:
        """The values of every supported field selector path for `obj`."""
        return {path: _get(obj, path) for path in self.fields}

    def discovery_entries(self) -> list[dict[str, Any]]:
        """APIResourceList entries: the collection and its subresources."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(VERBS),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub in self.subresources:
            entries.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


_POD_FIELDS = frozenset(
    {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    }
)
_EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)

CORE = [
    ResourceType(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        ("ns",),
        extra_fields=frozenset({"status.phase"}),
        subresources=("status",),
        has_spec_generation=False,
    ),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), ("all",), _POD_FIELDS, ("status",)),
    ResourceType(
        "",
        "v1",
        "nodes",
        "Node",
        False,
        ("no",),
        extra_fields=frozenset({"spec.unschedulable"}),
        subresources=("status",),
    ),
    ResourceType(
        "",
        "v1",
        "secrets",
        "Secret",
        True,
        extra_fields=frozenset({"type"}),
        has_spec_generation=False,
    ),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",), has_spec_generation=False),
    ResourceType(
        "", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), has_spec_generation=False
    ),
    ResourceType(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        True,
        ("pvc",),
        subresources=("status",),
    ),
    ResourceType(
        "", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), subresources=("status",)
    ),
    ResourceType(
        "",
        "v1",
        "services",
        "Service",
        True,
        ("svc",),
        ("all",),
        subresources=("status",),
        has_spec_generation=False,
    ),
    ResourceType(
        "",
        "v1",
        "events",
        "Event",
        True,
        ("ev",),
        extra_fields=_EVENT_FIELDS,
        has_spec_generation=False,
    ),
]
RBAC = [
    ResourceType(
        "rbac.authorization.k8s.io", "v1", plural, kind, namespaced, has_spec_generation=False
    )
    for plural, kind, namespaced in (
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    )
]
# What podwarden's chart installs (`kubectl apply` of the rendered chart): the agent's
# DaemonSet, the webhook's Deployment, PodDisruptionBudget and webhook configurations.
# Stored and served as written; no controller acts on them (nothing is scheduled).
WORKLOADS = [
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        ("all",),
        subresources=("status",),
    ),
    ResourceType(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        True,
        ("ds",),
        ("all",),
        subresources=("status",),
    ),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        subresources=("status",),
    ),
]
ADMISSION = [
    ResourceType("admissionregistration.k8s.io", "v1", plural, kind, False, (), ("api-extensions",))
    for plural, kind in (
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration"),
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration"),
    )
]
STORAGE = [
    ResourceType(
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "VolumeAttachment",
        False,
        extra_fields=frozenset({"spec.nodeName"}),
    ),
    ResourceType(
        "storage.k8s.io", "v1", "csidrivers", "CSIDriver", False, has_spec_generation=False
    ),
]
"""Added by the node-authorization part (issue 10): the node graph follows these."""
CRDS = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    False,
    ("crd", "crds"),
    ("api-extensions",),
    subresources=("status",),
)
ALL: tuple[ResourceType, ...] = (*CORE, *RBAC, *WORKLOADS, *ADMISSION, *STORAGE, CRDS)


@dataclass
class Registry:
    """Lookup by (group, version, plural) and by (apiVersion, kind); CRDs add and remove."""

    types: tuple[ResourceType, ...] = ALL
    _by_path: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _by_kind: dict[tuple[str, str], ResourceType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rtype in self.types:
            self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype
            self._by_kind[(rtype.api_version, rtype.kind)] = rtype

    def add(self, rtype: ResourceType) -> None:
        """Serve `rtype` (a CRD's version becoming established); replaces an older entry."""
        self.remove(rtype.group, rtype.version, rtype.plural)
        self.types = (*self.types, rtype)
        self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._by_kind[(rtype.api_version, rtype.kind)] = rtype

    def remove(self, group: str, version: str, plural: str) -> None:
        """Stop serving group/version/plural (a CRD deleted or a version no longer served)."""
        old = self._by_path.pop((group, version, plural), None)
        if old is None:
            return
        self.types = tuple(t for t in self.types if t is not old)
        if self._by_kind.get((old.api_version, old.kind)) is old:
            del self._by_kind[(old.api_version, old.kind)]

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def groups(self) -> dict[str, list[str]]:
        """Non-core groups and their versions, for /apis."""
        found: dict[str, list[str]] = {}
        for rtype in self.types:
            if rtype.group and rtype.version not in found.setdefault(rtype.group, []):
                found[rtype.group].append(rtype.version)
        return found

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and t.version == version]


REGISTRY = Registry()
"""The built-in types. Each `Storage` has its own `Registry` (built-ins plus its CRDs)."""
