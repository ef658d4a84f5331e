"""Volumes: allowed types, allowedHostPaths, allowedFlexVolumes, allowedCSIDrivers.

allowedHostPaths match segment-wise (`/var/log` admits `/var/log/pods`, not
`/var/logs`), after trimming one trailing slash from both sides, exactly as PSP's
hasPathPrefix did. A path under a `readOnly: true` prefix (and under no writable
one) must be mounted read-only by every container: PSP *validated* that each
volumeMount of the volume sets `readOnly: true`; it never rewrote the mount.

One addition, on the safe side: a hostPath containing a `..` segment is refused.
The API server's pod validation refused those before PSP ever saw them; offline
there is no API server, and `/var/log/../../etc` must not pass as `/var/log`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from podwarden.api import pods
from podwarden.podsecurity.psp.fielderr import FieldError, invalid
from podwarden.podsecurity.psp.model import PodSecurityPolicySpec

# Pod volume source key -> PSP FSType, in the order PSP's GetVolumeFSType tested them.
VOLUME_TYPES = {
    "hostPath": "hostPath",
    "emptyDir": "emptyDir",
    "gcePersistentDisk": "gcePersistentDisk",
    "awsElasticBlockStore": "awsElasticBlockStore",
    "gitRepo": "gitRepo",
    "secret": "secret",
    "nfs": "nfs",
    "iscsi": "iscsi",
    "glusterfs": "glusterfs",
    "persistentVolumeClaim": "persistentVolumeClaim",
    "rbd": "rbd",
    "flexVolume": "flexVolume",
    "cinder": "cinder",
    "cephfs": "cephFS",
    "flocker": "flocker",
    "downwardAPI": "downwardAPI",
    "fc": "fc",
    "azureFile": "azureFile",
    "configMap": "configMap",
    "vsphereVolume": "vsphereVolume",
    "quobyte": "quobyte",
    "azureDisk": "azureDisk",
    "photonPersistentDisk": "photonPersistentDisk",
    "projected": "projected",
    "portworxVolume": "portworxVolume",
    "scaleIO": "scaleIO",
    "storageos": "storageos",
    "csi": "csi",
    "ephemeral": "ephemeral",
}


def visit_containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every container of a pod spec with its field path, in PSP's visiting order."""
    for kind in pods.CONTAINER_KEYS:
        containers = spec.get(kind) or []
        if not isinstance(containers, list):
            raise TypeError(f"spec.{kind} must be a list")
        for index, container in enumerate(containers):
            if not isinstance(container, dict):
                raise TypeError(f"spec.{kind}[{index}] must be an object")
            yield f"spec.{kind}[{index}]", container


def volume_type(volume: Mapping[str, Any]) -> str:
    """The FSType of a pod volume, '' when it has no known source."""
    for key, fs_type in VOLUME_TYPES.items():
        if volume.get(key) is not None:
            return fs_type
    return ""


def has_path_prefix(path: str, prefix: str) -> bool:
    """PSP's segment-wise prefix test (one trailing slash trimmed on each side)."""
    path = path.removesuffix("/")
    prefix = prefix.removesuffix("/")
    if not path.startswith(prefix):
        return False
    return len(path) == len(prefix) or path[len(prefix)] == "/"


def allows_host_path(spec: PodSecurityPolicySpec, path: str) -> tuple[bool, bool]:
    """(allowed, must be read-only) for a hostPath under this policy."""
    if not spec.allowed_host_paths:
        return True, False
    allowed = read_only = False
    for entry in spec.allowed_host_paths:
        if has_path_prefix(path, entry.path_prefix):
            if not entry.read_only:
                return True, False
            allowed = read_only = True
    return allowed, read_only


def validate(spec: PodSecurityPolicySpec, pod_spec: Mapping[str, Any]) -> list[FieldError]:
    """Validate every volume of a pod spec against the policy."""
    errors: list[FieldError] = []
    allow_all = "*" in spec.volumes
    allowed_types = set(spec.volumes)
    pod_volumes = pod_spec.get("volumes") or []
    if not isinstance(pod_volumes, list):
        raise TypeError("spec.volumes must be a list")
    for index, volume in enumerate(pod_volumes):
        path = f"spec.volumes[{index}]"
        if not isinstance(volume, Mapping):
            errors.append(invalid(path, "", "unknown volume type for volume"))
            continue
        fs_type = volume_type(volume)
        if not fs_type:
            name = volume.get("name", "")
            errors.append(invalid(path, "", f"unknown volume type for volume: {name}"))
            continue
        if not allow_all and fs_type not in allowed_types:
            errors.append(invalid(path, fs_type, f"{fs_type} volumes are not allowed to be used"))
            continue
        source = volume.get(_source_key(fs_type)) or {}
        if fs_type == "hostPath":
            errors.extend(_validate_host_path(spec, pod_spec, path, volume, source))
        elif fs_type == "flexVolume" and spec.allowed_flex_volumes:
            driver = str(source.get("driver", ""))
            if driver not in {f.driver for f in spec.allowed_flex_volumes}:
                errors.append(
                    invalid(f"{path}.driver", driver, "Flexvolume driver is not allowed to be used")
                )
        elif fs_type == "csi" and spec.allowed_csi_drivers:
            driver = str(source.get("driver", ""))
            if driver not in {d.name for d in spec.allowed_csi_drivers}:
                errors.append(
                    invalid(
                        f"{path}.csi.driver", driver, "Inline CSI driver is not allowed to be used"
                    )
                )
    return errors


def _source_key(fs_type: str) -> str:
    return "cephfs" if fs_type == "cephFS" else fs_type


def _validate_host_path(
    spec: PodSecurityPolicySpec,
    pod_spec: Mapping[str, Any],
    path: str,
    volume: Mapping[str, Any],
    source: Mapping[str, Any],
) -> list[FieldError]:
    host_path = str(source.get("path", ""))
    if ".." in host_path.split("/"):
        return [invalid(f"{path}.hostPath.path", host_path, "must not contain '..'")]
    allowed, read_only = allows_host_path(spec, host_path)
    if not allowed:
        return [invalid(f"{path}.hostPath.pathPrefix", host_path, "is not allowed to be used")]
    if not read_only:
        return []
    errors: list[FieldError] = []
    for container_path, container in visit_containers(pod_spec):
        for index, mount in enumerate(container.get("volumeMounts") or []):
            if mount.get("name") == volume.get("name") and not mount.get("readOnly", False):
                errors.append(
                    invalid(
                        f"{container_path}.volumeMounts[{index}].readOnly",
                        False,
                        "must be read-only",
                    )
                )
    return errors
