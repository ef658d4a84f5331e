"""A minimal OpenAPI v3 description: enough for kubectl's field-validation probe.

`kubectl apply/create/replace` validate by default. They first ask the
server's OpenAPI v3 document whether the PATCH operation for the object's
group/version/kind accepts the `fieldValidation` query parameter; if it does,
kubectl leaves validation to the server and sends `fieldValidation=Strict`.
Without OpenAPI at all kubectl refuses ("failed to download openapi"). So the
lab serves /openapi/v3 (the index) and one document per group/version listing
each resource's item path with that PATCH operation, and no schemas: kubectl
then computes strategic merge patches from its built-in types, as it does for
any server whose schema lacks a kind.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from podwarden.lab.apiserver.resources import REGISTRY, Registry, ResourceType

_PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force")
]


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _item_path(rtype: ResourceType) -> str:
    base = "/" + _prefix(rtype.group, rtype.version)
    if rtype.namespaced:
        return f"{base}/namespaces/{{namespace}}/{rtype.plural}/{{name}}"
    return f"{base}/{rtype.plural}/{{name}}"


def group_version_document(
    group: str, version: str, *, registry: Registry = REGISTRY
) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths = {}
    for rtype in types:
        gvk = {"group": group, "version": version, "kind": rtype.kind}
        paths[_item_path(rtype)] = {
            "patch": {
                "operationId": f"patch{rtype.kind}",
                "parameters": _PARAMETERS,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (podwarden lab)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _hash(document: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:128].upper()


def index(*, registry: Registry = REGISTRY) -> dict[str, Any]:
    """The /openapi/v3 discovery: one serverRelativeURL (with content hash) per group/version."""
    pairs = sorted({(t.group, t.version) for t in registry.types})
    paths = {}
    for group, version in pairs:
        document = group_version_document(group, version, registry=registry)
        assert document is not None
        prefix = _prefix(group, version)
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={_hash(document)}"}
    return {"paths": paths}
