"""CustomResourceDefinitions: a stored CRD becomes served resource types.

What kube-apiserver's apiextensions part does, reduced to what the lab needs so
that `kubectl apply -f <crd>` followed by `kubectl apply -f <custom object>`
works as against a cluster: the CRD is validated with upstream's field paths
(name = <plural>.<group>, scope, names, exactly one storage version, the
protected `*.k8s.io` groups), marked established (NamesAccepted and
Established conditions, acceptedNames, storedVersions), and every `served`
version is routed and listed in discovery, with its additionalPrinterColumns
for `kubectl get`.

Not done (said here so nobody relies on it): validation and pruning of custom
objects against `openAPIV3Schema`, and conversion between versions (objects
are stored once per group/plural and come back in the version they were
written in, as with `conversion: None` apart from apiVersion).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.lab.apiserver import errors
from podwarden.lab.apiserver.resources import CRDS, ResourceType

KIND = CRDS.kind
GROUP = CRDS.group
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
PROTECTED_SUFFIXES = (".k8s.io", ".kubernetes.io")
SCOPES = ("Cluster", "Namespaced")

Cause = tuple[str, str, str]


def is_crd(rtype: ResourceType) -> bool:
    return rtype.group == CRDS.group and rtype.plural == CRDS.plural


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _versions(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    versions = spec.get("versions")
    return [v for v in versions if isinstance(v, dict)] if isinstance(versions, list) else []


def _names_causes(names: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("plural", "kind"):
        if not names.get(key):
            causes.append((f"spec.names.{key}", "FieldValueRequired", "Required value"))
    return causes


def _version_causes(spec: Mapping[str, Any]) -> list[Cause]:
    versions = _versions(spec)
    if not versions:
        return [("spec.versions", "FieldValueRequired", "Required value")]
    causes: list[Cause] = []
    for index, version in enumerate(versions):
        if not version.get("name"):
            causes.append((f"spec.versions[{index}].name", "FieldValueRequired", "Required value"))
    if sum(1 for v in versions if v.get("storage") is True) != 1:
        causes.append(
            (
                "spec.versions",
                "FieldValueInvalid",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    return causes


def validate(crd: Mapping[str, Any], *, old: Mapping[str, Any] | None = None) -> None:
    """Raise 422 Invalid, as apiextensions validation words it, for an unusable CRD."""
    metadata, spec = _dict(crd.get("metadata")), _dict(crd.get("spec"))
    name = str(metadata.get("name") or "")
    group, names = str(spec.get("group") or ""), _dict(spec.get("names"))
    causes: list[Cause] = []
    if not group:
        causes.append(("spec.group", "FieldValueRequired", "Required value"))
    elif "." not in group:
        causes.append(
            (
                "spec.group",
                "FieldValueInvalid",
                f'Invalid value: "{group}": should be a domain with at least one dot',
            )
        )
    elif group.endswith(PROTECTED_SUFFIXES) and not _dict(metadata.get("annotations")).get(
        APPROVAL_ANNOTATION
    ):
        causes.append(
            (
                f"metadata.annotations[{APPROVAL_ANNOTATION}]",
                "FieldValueRequired",
                "Required value: protected groups must have approval annotation "
                f'"{APPROVAL_ANNOTATION}", see https://github.com/kubernetes/enhancements/pull/1111',
            )
        )
    causes += _names_causes(names)
    if names.get("plural") and group and name != f"{names['plural']}.{group}":
        causes.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    scope = spec.get("scope")
    if scope not in SCOPES:
        causes.append(
            (
                "spec.scope",
                "FieldValueNotSupported",
                f'Unsupported value: "{scope or ""}": supported values: "Cluster", "Namespaced"',
            )
        )
    elif old is not None and _dict(old.get("spec")).get("scope") != scope:
        causes.append(
            ("spec.scope", "FieldValueInvalid", f'Invalid value: "{scope}": field is immutable')
        )
    causes += _version_causes(spec)
    if causes:
        raise errors.invalid(KIND, name, causes, group=GROUP)


def _columns(version: Mapping[str, Any]) -> tuple[tuple[str, str, str, int], ...]:
    found = []
    for column in version.get("additionalPrinterColumns") or []:
        if isinstance(column, dict) and column.get("name") and column.get("jsonPath"):
            found.append(
                (
                    str(column["name"]),
                    str(column.get("type") or "string"),
                    str(column["jsonPath"]),
                    int(column.get("priority") or 0),
                )
            )
    return tuple(found)


def resource_types(crd: Mapping[str, Any]) -> list[ResourceType]:
    """One served type per `served: true` version of a validated CRD."""
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    types = []
    for version in _versions(spec):
        if version.get("served") is False:
            continue
        subresources = _dict(version.get("subresources"))
        types.append(
            ResourceType(
                str(spec["group"]),
                str(version["name"]),
                str(names["plural"]),
                str(names["kind"]),
                spec.get("scope") == "Namespaced",
                tuple(str(n) for n in names.get("shortNames") or ()),
                tuple(str(c) for c in names.get("categories") or ()),
                subresources=("status",) if "status" in subresources else (),
                singular_name=str(names.get("singular") or ""),
                printer_columns=_columns(version),
            )
        )
    return types


def establish(crd: dict[str, Any], *, now: str) -> None:
    """Fill in the status the apiextensions controllers write once the names are accepted."""
    spec = _dict(crd.get("spec"))
    status = _dict(crd.get("status"))
    stored = [str(v["name"]) for v in _versions(spec) if v.get("storage") is True]
    previous = [str(v) for v in status.get("storedVersions") or []]
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    for kind, reason, message in (
        ("NamesAccepted", "NoConflicts", "no conflicts found"),
        ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ):
        conditions.setdefault(
            kind,
            {
                "type": kind,
                "status": "True",
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            },
        )
    crd["status"] = {
        "conditions": list(conditions.values()),
        "acceptedNames": dict(_dict(spec.get("names"))),
        "storedVersions": previous + [v for v in stored if v not in previous],
    }
