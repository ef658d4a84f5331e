"""Server-side printing: `meta.k8s.io` Table responses for `kubectl get`.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
cells it gets back, so the columns here follow the upstream printers for the
types the lab serves (NAME/READY/STATUS/RESTARTS/AGE for pods, ...), and rows
carry PartialObjectMetadata so `-A`, `--show-labels` and `-L` work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Column = tuple[str, str, int, Callable[[dict[str, Any]], Any]]  # name, type, priority, cell


def wants_table(accept: str) -> str | None:
    """The meta.k8s.io version of Table the client accepts (v1 / v1beta1), if any."""
    for media_range in accept.split(","):
        params = dict(
            part.strip().split("=", 1) for part in media_range.split(";")[1:] if "=" in part
        )
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return params.get("v", "v1")
    return None


def human_age(stamp: str | None) -> str:
    """The short duration kubectl shows (`45s`, `3m12s`, `5h`, `12d`), like HumanDuration."""
    if not stamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _age(obj: dict[str, Any]) -> str:
    return human_age(_meta(obj).get("creationTimestamp"))


def _pod_ready(pod: dict[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for status in statuses if status.get("ready"))
    return f"{ready}/{len(containers)}"


def _pod_status(pod: dict[str, Any]) -> str:
    if _meta(pod).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    return str(status.get("reason") or status.get("phase") or "Pending")


def _pod_restarts(pod: dict[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(status.get("restartCount") or 0) for status in statuses)


def _node_status(node: dict[str, Any]) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    text = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(node: dict[str, Any]) -> str:
    prefix = "node-role.kubernetes.io/"
    labels = _meta(node).get("labels") or {}
    roles = sorted(key[len(prefix) :] for key in labels if key.startswith(prefix))
    return ",".join(roles) or "<none>"


_NAME: Column = ("Name", "string", 0, lambda o: _meta(o).get("name", ""))
_AGE: Column = ("Age", "string", 0, _age)
COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        _NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "integer", 0, _pod_restarts),
        _AGE,
        ("IP", "string", 1, lambda o: (o.get("status") or {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda o: (o.get("spec") or {}).get("nodeName") or "<none>"),
    ],
    "Namespace": [
        _NAME,
        ("Status", "string", 0, lambda o: (o.get("status") or {}).get("phase", "")),
        _AGE,
    ],
    "Node": [
        _NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        _AGE,
        (
            "Version",
            "string",
            0,
            lambda o: ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""),
        ),
    ],
    "Secret": [
        _NAME,
        ("Type", "string", 0, lambda o: o.get("type", "Opaque")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    "ConfigMap": [
        _NAME,
        ("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    "ServiceAccount": [
        _NAME,
        ("Secrets", "integer", 0, lambda o: len(o.get("secrets") or [])),
        _AGE,
    ],
    "CustomResourceDefinition": [
        _NAME,
        ("Created At", "date", 0, lambda o: _meta(o).get("creationTimestamp", "")),
    ],
    "Event": [
        (
            "Last Seen",
            "string",
            0,
            lambda o: human_age(o.get("lastTimestamp") or _meta(o).get("creationTimestamp")),
        ),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        (
            "Object",
            "string",
            0,
            lambda o: "{}/{}".format(
                str((o.get("involvedObject") or {}).get("kind", "")).lower(),
                (o.get("involvedObject") or {}).get("name", ""),
            ),
        ),
        ("Message", "string", 0, lambda o: o.get("message", "")),
    ],
}


def _definitions(columns: list[Column]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "type": kind,
            "format": "name" if name == "Name" else "",
            "description": f"{name} of the object",
            "priority": priority,
        }
        for name, kind, priority, _cell in columns
    ]


def _row_object(obj: dict[str, Any], include: str, version: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": _meta(obj),
    }


def _json_path(obj: Any, path: str) -> Any:
    """A simple `.a.b.c` jsonPath (what additionalPrinterColumns use) or None."""
    for part in path.strip().lstrip(".").split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _printer_cell(path: str, kind: str) -> Callable[[dict[str, Any]], Any]:
    """A CRD column's cell as the CRD printer renders it: lists and maps as JSON, dates as
    ages, missing values as None (kubectl shows <none>)."""

    def cell(obj: dict[str, Any]) -> Any:
        value = _json_path(obj, path)
        if value is None:
            return None
        if kind == "date":
            return human_age(str(value))
        if isinstance(value, list | dict):
            return json.dumps(value, separators=(",", ":"))
        return value

    return cell


def printer_columns(printer: tuple[tuple[str, str, str, int], ...]) -> list[Column]:
    """Columns for a CRD version: Name, then its additionalPrinterColumns (Age if none)."""
    if not printer:
        return [_NAME, _AGE]
    return [_NAME] + [
        (name, "string" if kind == "date" else kind, priority, _printer_cell(path, kind))
        for name, kind, path, priority in printer
    ]


def table(
    kind: str,
    objects: list[dict[str, Any]],
    *,
    version: str,
    resource_version: str,
    include: str = "Metadata",
    headers: bool = True,
    printer: tuple[tuple[str, str, str, int], ...] = (),
) -> dict[str, Any]:
    """A Table of `objects`; `include` is the includeObject policy (None/Metadata/Object);
    `printer`: a CRD's additionalPrinterColumns (name, type, jsonPath, priority)."""
    columns = printer_columns(printer) if printer else COLUMNS.get(kind, [_NAME, _AGE])
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _n, _t, _p, cell in columns]}
        embedded = _row_object(obj, include, version)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": _definitions(columns) if headers else [],
        "rows": rows,
    }
