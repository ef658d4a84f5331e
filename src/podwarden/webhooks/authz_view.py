"""The node authorizer's view of the cluster: the graph's ClusterState plus the RBAC objects.

One sink for both sources: the feed over the API (kube/feed.py) and a cluster file
(any mix of Pods, Nodes, PVs, PVCs, VolumeAttachments, ResourceSlices, ServiceAccounts,
CSIDrivers and RBAC objects; `List`s expanded; JSON read as JSON, YAML with the C
loader). RBAC objects are few and kept whole; the RBAC authorizer is rebuilt only when
one changed, and serves the token-audience grants of NodeRestriction (verb
`request-serviceaccounts-token-audience`, resource = the audience) and the report.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from podwarden import rbac as rbac_
from podwarden.api.authorization import Attributes
from podwarden.config import ConfigError
from podwarden.nodeauth import populate
from podwarden.nodeauth.populate import ClusterState
from podwarden.rbac import RBAC_KINDS, RbacError

KINDS = (*populate.KINDS, *RBAC_KINDS)
AUDIENCE_VERB = "request-serviceaccounts-token-audience"


class NodeAuthView:
    """ClusterState + RBAC objects; `synced` once a full list (or file) is in."""

    def __init__(self, *, audience_grants: bool = True) -> None:
        self.state = ClusterState()
        self.rbac_objects: dict[str, dict[str, Any]] = {}
        self._rbac: rbac_.Authorizer | None = None
        self.synced = asyncio.Event()
        if audience_grants:
            self.state.grants = self.audience_granted

    # ---- Sink ----------------------------------------------------------------------

    def apply(self, obj: Mapping[str, Any]) -> None:
        kind = obj.get("kind")
        if kind in RBAC_KINDS:
            self.rbac_objects[_rbac_key(obj)] = dict(obj)
            self._rbac = None
        else:
            self.state.apply(obj)

    def delete(self, obj: Mapping[str, Any]) -> None:
        if obj.get("kind") in RBAC_KINDS:
            if self.rbac_objects.pop(_rbac_key(obj), None) is not None:
                self._rbac = None
        else:
            self.state.delete(obj)

    # ---- RBAC ----------------------------------------------------------------------

    def rbac(self) -> rbac_.Authorizer:
        if self._rbac is None:
            try:
                self._rbac = rbac_.Authorizer.from_objects(self.rbac_objects.values())
            except RbacError:
                self._rbac = rbac_.Authorizer.from_objects(())
                raise
        return self._rbac

    def audience_granted(self, node: str, audience: str, namespace: str, account: str) -> bool:
        attrs = Attributes(
            user=f"system:node:{node}",
            groups=("system:nodes", "system:authenticated"),
            verb=AUDIENCE_VERB,
            resource=audience,
            namespace=namespace,
            name=account,
        )
        try:
            return self.rbac().authorize(attrs).allowed
        except RbacError:
            return False  # an unreadable RBAC object grants nothing

    # ---- files ---------------------------------------------------------------------

    def load_file(self, path: Path) -> int:
        """Replace the view with the file's objects; returns how many; ConfigError if unusable."""
        objects = read_objects(path)
        by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        for where, obj in objects:
            kind = obj.get("kind")
            if kind not in by_kind:
                accepted = ", ".join(KINDS)
                raise ConfigError(f"{where}: kind: {kind!r} is not accepted (accepted: {accepted})")
            meta = obj.get("metadata")
            if not isinstance(meta, Mapping) or not meta.get("name"):
                raise ConfigError(f"{where}: metadata.name: required")
            by_kind[str(kind)].append(obj)
        for kind in populate.KINDS:
            self.state.replace(kind, by_kind[kind])
        self.rbac_objects = {_rbac_key(o): o for k in RBAC_KINDS for o in by_kind[k]}
        self._rbac = None
        self.rbac()  # a malformed RBAC object is the file's error, reported now
        self.synced.set()
        return len(objects)


def _rbac_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def read_objects(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every object in a YAML stream or JSON file (`List`s and sequences of objects expanded),
    with where it came from."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            documents = data if isinstance(data, list) else [data]
        else:
            documents = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None
    found: list[tuple[str, dict[str, Any]]] = []
    for index, doc in enumerate(documents):
        where = f"{path}: document {index + 1}"
        items: list[Any] = [doc]
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            items = list(doc.get("items") or [])
        elif isinstance(doc, list):  # a YAML document that is a sequence of objects
            items = doc
        single = len(items) == 1 and items[0] is doc
        for position, item in enumerate(items):
            place = where if single else f"{where}: items[{position}]"
            if not isinstance(item, dict):
                raise ConfigError(
                    f"{place}: expected a Kubernetes object, got {type(item).__name__}"
                )
            found.append((place, item))
    return found
