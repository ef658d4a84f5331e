"""What a pod and a persistent volume refer to: the edges of the node graph.

Ports of upstream's visitors, over plain JSON objects:

- podutil.VisitPodSecretNames / VisitPodConfigmapNames: imagePullSecrets; env
  `valueFrom.secretKeyRef|configMapKeyRef` and `envFrom` of init, regular and
  ephemeral containers; volumes `secret`, `configMap`, `projected` sources, and the
  secret refs of azureFile, cephfs, cinder, flexVolume, rbd, scaleIO, iscsi,
  storageos and csi (nodePublishSecretRef);
- the pod's claims: `persistentVolumeClaim.claimName` and generic ephemeral volumes
  (`<pod>-<volume>`, ephemeral.VolumeClaimName);
- resourceclaim.Name: `resourceClaimName`, or for a template the name recorded in
  `status.resourceClaimStatuses` (none yet: no edge), plus
  `status.extendedResourceClaimStatus.resourceClaimName`;
- pvutil.VisitPVSecretNames: the secrets a PV names, in their namespace or the
  claim's, and whether the kubelet sees them (CSI controller secrets it does not).

Malformed fields (a list where an object belongs) are skipped, never fatal: the
graph must follow whatever the API server stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.api import pods

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos")
_PV_SECRET_REF_SOURCES = (*_SECRET_REF_VOLUMES,)

IN_TREE_CSI_DRIVERS: Mapping[str, str] = {
    "awsElasticBlockStore": "ebs.csi.aws.com",
    "azureDisk": "disk.csi.azure.com",
    "azureFile": "file.csi.azure.com",
    "gcePersistentDisk": "pd.csi.storage.gke.io",
    "cinder": "cinder.csi.openstack.org",
    "vsphereVolume": "csi.vsphere.vmware.com",
    "portworxVolume": "pxd.portworx.com",
}
"""csi-translation-lib: the CSI driver an in-tree volume type is migrated to."""


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(value: Any, key: str = "name") -> str:
    found = _map(value).get(key)
    return found if isinstance(found, str) else ""


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Init, regular, then ephemeral containers (upstream's AllContainers order)."""
    for key in pods.CONTAINER_KEYS:
        for container in _list(spec.get(key)):
            if isinstance(container, Mapping):
                yield container


def _env_names(container: Mapping[str, Any], from_key: str, ref_key: str) -> Iterator[str]:
    for source in _list(container.get("envFrom")):
        yield _name(_map(source).get(from_key))
    for env in _list(container.get("env")):
        yield _name(_map(_map(env).get("valueFrom")).get(ref_key))


def secret_names(pod: Mapping[str, Any]) -> Iterator[str]:
    """Every secret name the pod refers to (may repeat; '' never)."""
    spec = _map(pod.get("spec"))
    for ref in _list(spec.get("imagePullSecrets")):
        if name := _name(ref):
            yield name
    for container in containers(spec):
        yield from filter(None, _env_names(container, "secretRef", "secretKeyRef"))
    for volume in _list(spec.get("volumes")):
        volume = _map(volume)
        if "azureFile" in volume:
            name = _name(volume["azureFile"], "secretName")
        elif "secret" in volume:
            name = _name(volume["secret"], "secretName")
        elif "projected" in volume:
            for source in _list(_map(volume["projected"]).get("sources")):
                if sub := _name(_map(source).get("secret")):
                    yield sub
            continue
        elif "csi" in volume:
            name = _name(_map(volume["csi"]).get("nodePublishSecretRef"))
        else:
            kind = next((k for k in _SECRET_REF_VOLUMES if k in volume), None)
            name = _name(_map(volume[kind]).get("secretRef")) if kind else ""
        if name:
            yield name


def configmap_names(pod: Mapping[str, Any]) -> Iterator[str]:
    """Every configmap name the pod refers to (may repeat; '' never)."""
    spec = _map(pod.get("spec"))
    for container in containers(spec):
        yield from filter(None, _env_names(container, "configMapRef", "configMapKeyRef"))
    for volume in _list(spec.get("volumes")):
        volume = _map(volume)
        if "configMap" in volume:
            if name := _name(volume["configMap"]):
                yield name
        elif "projected" in volume:
            for source in _list(_map(volume["projected"]).get("sources")):
                if name := _name(_map(source).get("configMap")):
                    yield name


def claim_names(pod: Mapping[str, Any]) -> Iterator[str]:
    """PersistentVolumeClaims the pod mounts, generic ephemeral volumes included."""
    meta, spec = _map(pod.get("metadata")), _map(pod.get("spec"))
    for volume in _list(spec.get("volumes")):
        volume = _map(volume)
        if "persistentVolumeClaim" in volume:
            if name := _name(volume["persistentVolumeClaim"], "claimName"):
                yield name
        elif "ephemeral" in volume and volume.get("name"):
            yield f"{meta.get('name', '')}-{volume['name']}"


def resource_claim_names(pod: Mapping[str, Any]) -> Iterator[str]:
    """ResourceClaims the pod uses: named ones, generated ones recorded in its status."""
    spec, status = _map(pod.get("spec")), _map(pod.get("status"))
    recorded = {
        _name(s): _map(s).get("resourceClaimName")
        for s in _list(status.get("resourceClaimStatuses"))
    }
    for claim in _list(spec.get("resourceClaims")):
        claim = _map(claim)
        if isinstance(claim.get("resourceClaimName"), str) and claim["resourceClaimName"]:
            yield claim["resourceClaimName"]
        elif claim.get("resourceClaimTemplateName"):
            generated = recorded.get(_name(claim))
            if isinstance(generated, str) and generated:
                yield generated
    if extended := _name(status.get("extendedResourceClaimStatus"), "resourceClaimName"):
        yield extended


def is_mirror(pod: Mapping[str, Any]) -> bool:
    """A static pod's mirror (the kubelet creates it; it may refer to nothing)."""
    return MIRROR_ANNOTATION in _map(_map(pod.get("metadata")).get("annotations"))


@dataclass(frozen=True, slots=True)
class PvSecret:
    namespace: str
    name: str
    kubelet_visible: bool


def pv_secrets(pv: Mapping[str, Any]) -> Iterator[PvSecret]:
    """pvutil.VisitPVSecretNames."""
    spec = _map(pv.get("spec"))
    claim_ns = _name(spec.get("claimRef"), "namespace")
    if "azureFile" in spec:
        source = _map(spec["azureFile"])
        namespace = source.get("secretNamespace") or claim_ns
        if name := _name(source, "secretName"):
            yield PvSecret(str(namespace), name, True)
    elif "csi" in spec:
        source = _map(spec["csi"])
        for key, visible in (
            ("controllerPublishSecretRef", False),
            ("controllerExpandSecretRef", False),
            ("nodePublishSecretRef", True),
            ("nodeStageSecretRef", True),
            ("nodeExpandSecretRef", True),
        ):
            ref = _map(source.get(key))
            if ref:
                yield PvSecret(_name(ref, "namespace"), _name(ref), visible)
    else:
        kind = next((k for k in _PV_SECRET_REF_SOURCES if k in spec), None)
        ref = _map(_map(spec[kind]).get("secretRef")) if kind else {}
        if ref:
            yield PvSecret(_name(ref, "namespace") or claim_ns, _name(ref), True)


def csi_driver_of_volume(source: Mapping[str, Any]) -> str:
    """The CSI driver behind an inline volume or a PV spec ('' when none): `csi.driver`,
    or the driver an in-tree type migrates to."""
    if "csi" in source:
        return _name(source["csi"], "driver")
    for in_tree, driver in IN_TREE_CSI_DRIVERS.items():
        if in_tree in source:
            return driver
    return ""
