"""Builders for RBAC objects in their Kubernetes shape (one place for the rbac tests)."""

from __future__ import annotations

from typing import Any

API = "rbac.authorization.k8s.io/v1"


def role(
    name: str,
    rules: list[dict[str, Any]],
    *,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    selectors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Role with a namespace, otherwise a ClusterRole (aggregated with `selectors`)."""
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    doc: dict[str, Any] = {
        "apiVersion": API,
        "kind": "Role" if namespace else "ClusterRole",
        "metadata": meta,
        "rules": rules,
    }
    if selectors is not None:
        doc["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return doc


def binding(
    name: str,
    role_name: str,
    subjects: list[dict[str, str]],
    *,
    namespace: str | None = None,
    role_kind: str = "ClusterRole",
) -> dict[str, Any]:
    """A RoleBinding with a namespace, otherwise a ClusterRoleBinding."""
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": API,
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def rule(
    verbs: list[str], resources: list[str], groups: list[str] | None = None, **more: Any
) -> dict[str, Any]:
    return {
        "verbs": verbs,
        "apiGroups": groups if groups is not None else [""],
        "resources": resources,
        **more,
    }
