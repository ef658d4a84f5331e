"""restrictedVolumes (restricted): only volume types that keep storage behind the API.

Restricted fields: spec.volumes[*] of any type other than the allowed ones, e.g.
hostPath, gcePersistentDisk, awsElasticBlockStore, gitRepo, nfs, iscsi, glusterfs,
rbd, flexVolume, cinder, cephfs, flocker, fc, azureFile, vsphereVolume, quobyte,
azureDisk, portworxVolume, photonPersistentDisk, scaleIO, storageos.
Allowed values: configMap, csi, downwardAPI, emptyDir, ephemeral, image,
persistentVolumeClaim, projected, secret. Replaces hostPathVolumes at restricted level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks import host_path_volumes
from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    items,
    mapping,
    name_of,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import join_quote, pluralize

ALLOWED_TYPES = (
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
)  # fmt: skip
RESTRICTED_TYPES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "portworxVolume", "photonPersistentDisk",
    "scaleIO", "storageos",
)  # fmt: skip


def _restricted_type(volume: Mapping[str, Any]) -> str | None:
    """None for an allowed volume, else the name of its (first) restricted type.

    A volume naming a restricted source is refused even when it also names an
    allowed one. Kubernetes validation rejects such multi-source volumes anyway;
    PSA's switch would let them pass, and a webhook may see them first.
    """
    if all(key == "name" for key in volume):
        return None  # no source: the API server defaults it to emptyDir
    for key in RESTRICTED_TYPES:
        if volume.get(key) is not None:
            return key
    if any(volume.get(key) is not None for key in ALLOWED_TYPES):
        return None
    return "unknown"


def restricted_volumes_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad: list[str] = []
    kinds: set[str] = set()
    for raw in items(spec.get("volumes")):
        volume = mapping(raw) or {}
        kind = _restricted_type(volume)
        if kind is not None:
            bad.append(name_of(volume))
            kinds.add(kind)
    if not bad:
        return ALLOWED
    detail = (
        f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
        f"{pluralize('uses', 'use', len(bad))} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{join_quote(sorted(kinds))}"
    )
    return CheckResult(False, "restricted volume types", detail)


CHECK = Check(
    "restrictedVolumes",
    Level.RESTRICTED,
    (VersionedCheck(v(0), restricted_volumes_1_0, overrides=(host_path_volumes.ID,)),),
)
