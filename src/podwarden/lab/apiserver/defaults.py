"""What kube-apiserver does to an object before storing it: validate, default, stamp.

Only the rules podwarden's lab and kubectl's everyday commands run into are
here (names, labels, a pod's containers, the namespace's own label, the
service-account default), with upstream's field paths and messages so a 422
looks the same as against a real cluster.
"""

from __future__ import annotations

import base64
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from podwarden.kube import selectors
from podwarden.lab.apiserver import errors
from podwarden.lab.apiserver.resources import ResourceType

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def now() -> str:
    """RFC 3339 with second precision and Z, as metav1.Time serialises."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name_causes(rtype: ResourceType, name: str) -> list[tuple[str, str, str]]:
    if rtype.kind == "Namespace":
        pattern, limit, what = DNS1123_LABEL, 63, "RFC 1123 label"
    else:
        pattern, limit, what = DNS1123_SUBDOMAIN, 253, "RFC 1123 subdomain"
    if len(name) <= limit and pattern.match(name):
        return []
    return [
        (
            "metadata.name",
            "FieldValueInvalid",
            f'Invalid value: "{name}": a lowercase {what} must consist of lower case alphanumeric '
            "characters, '-' or '.', and must start and end with an alphanumeric character",
        )
    ]


def _label_causes(labels: Any) -> list[tuple[str, str, str]]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [("metadata.labels", "FieldValueInvalid", "Invalid value: must be a map")]
    causes = []
    for key, value in labels.items():
        text = "" if value is None else str(value)
        try:
            selectors.parse_labels(f"{key}={text}" if text else f"{key}")
        except selectors.SelectorError:
            causes.append(
                (
                    "metadata.labels",
                    "FieldValueInvalid",
                    f'Invalid value: "{text}": a valid label must be an empty string or consist of '
                    "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character",
                )
            )
    return causes


def _pod_causes(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [("spec.containers", "FieldValueRequired", "Required value")]
    causes = []
    for index, container in enumerate(containers):
        where = f"spec.containers[{index}]"
        if not isinstance(container, dict) or not container.get("name"):
            causes.append((f"{where}.name", "FieldValueRequired", "Required value"))
        elif not container.get("image"):
            causes.append((f"{where}.image", "FieldValueRequired", "Required value"))
    return causes


def validate(rtype: ResourceType, obj: dict[str, Any]) -> None:
    """Raise 422 Invalid with upstream's field paths when `obj` would be rejected."""
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name") or "")
    causes = (
        _name_causes(rtype, name)
        if name
        else [
            (
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        ]
    )
    causes += _label_causes(metadata.get("labels"))
    if rtype.kind == "Pod":
        causes += _pod_causes(obj)
    if causes:
        raise errors.invalid(rtype.kind, name, causes, group=rtype.group)


def generate_name(prefix: str) -> str:
    return prefix + "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(5))


def stamp_new(rtype: ResourceType, obj: dict[str, Any], *, namespace: str | None) -> None:
    """Set kind, apiVersion, uid, creationTimestamp, generation and defaults in place."""
    obj["kind"] = rtype.kind
    obj["apiVersion"] = rtype.api_version
    metadata = obj.setdefault("metadata", {})
    if not metadata.get("name") and metadata.get("generateName"):
        metadata["name"] = generate_name(str(metadata["generateName"]))
    if rtype.namespaced:
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    metadata["uid"] = str(uuid.uuid4())
    metadata["creationTimestamp"] = now()
    for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        metadata.pop(transient, None)
    if rtype.has_spec_generation:
        metadata["generation"] = 1
    if rtype.kind == "Namespace":
        metadata.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = metadata.get("name")
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif rtype.kind == "Pod":
        _default_pod(obj)


def normalise(rtype: ResourceType, obj: dict[str, Any]) -> None:
    """Write-time conversions every create and update gets (a Secret's stringData)."""
    if rtype.kind == "Secret":
        obj.setdefault("type", "Opaque")
        plain = obj.pop("stringData", None)
        if isinstance(plain, dict):
            data = obj.setdefault("data", {})
            for key, value in plain.items():
                data[key] = base64.b64encode(str(value).encode()).decode()


def _default_pod(obj: dict[str, Any]) -> None:
    """The pod defaults kubectl shows back; a lab pod may arrive with its status (IPs) set."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = account
    spec["serviceAccount"] = account
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            image = str(container.get("image") or "")
            latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    if status.get("podIP") and not status.get("podIPs"):
        status["podIPs"] = [{"ip": status["podIP"]}]
    if status.get("podIPs") and not status.get("podIP"):
        first = status["podIPs"][0]
        if isinstance(first, dict) and first.get("ip"):
            status["podIP"] = first["ip"]
