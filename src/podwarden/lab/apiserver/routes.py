"""URL grammar of the Kubernetes REST API, parsed into a `Target`.

    /api/v1[/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]
    /apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]

`/api/v1/namespaces/{name}[/status]` is the Namespace object itself; a third
segment is a namespaced collection only when it names a known plural.
"""

from __future__ import annotations

from dataclasses import dataclass

from podwarden.lab.apiserver import errors
from podwarden.lab.apiserver.resources import REGISTRY, Registry, ResourceType


@dataclass(frozen=True)
class Target:
    rtype: ResourceType
    namespace: str | None  # None: cluster-scoped type, or all namespaces
    name: str | None
    subresource: str


def parse(path: str, *, registry: Registry = REGISTRY) -> Target:
    """Raise 404 (the server's wording) for anything that is not a resource `registry` serves."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise errors.path_not_found()
    namespace: str | None = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and registry.by_path(group, version, rest[2]) is not None
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise errors.path_not_found()
    rtype = registry.by_path(group, version, rest[0])
    if rtype is None:
        raise errors.path_not_found()
    if namespace is not None and not rtype.namespaced:
        raise errors.path_not_found()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and subresource not in rtype.subresources:
        raise errors.path_not_found()
    if rtype.namespaced and name is not None and namespace is None:
        raise errors.path_not_found()
    return Target(rtype, namespace, name, subresource)
