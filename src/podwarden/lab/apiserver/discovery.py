"""Discovery documents: /version, /api, /api/v1, /apis, /apis/{group}[/{version}].

Only the legacy (unaggregated) discovery is served: when kubectl asks for the
aggregated `apidiscovery.k8s.io` form it accepts plain JSON as well and falls
back to walking /api and /apis, exactly as against an older server.
"""

from __future__ import annotations

from typing import Any

from podwarden.lab.apiserver.resources import REGISTRY, Registry

LAB_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-podwarden-lab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def resource_list(
    group: str, version: str, *, registry: Registry = REGISTRY
) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for rtype in types for entry in rtype.discovery_entries()],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def group_list(*, registry: Registry = REGISTRY) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in registry.groups().items()],
    }


def group(name: str, *, registry: Registry = REGISTRY) -> dict[str, Any] | None:
    versions = registry.groups().get(name)
    if versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}
