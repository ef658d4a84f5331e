"""The GCE metadata tree and its three renderings (listing, text leaf, recursive JSON).

Kept apart from the HTTP handler because the rules are data-shaped: directory
listings end every entry with a newline and mark sub-directories with `/`;
`?recursive=true` turns hyphenated built-in names into camelCase
(`machine-type` → `machineType`) but keeps user keys (attributes, service
account emails) verbatim, renders numbered directories (disks,
network-interfaces) as arrays and leaves out `token` and `identity`;
`alt=text` flattens a directory into `path value` lines.
"""

from __future__ import annotations

import json
from typing import Any

from podwarden.lab.cloud.state import GceServiceAccount, GceState

Value = str | int | list[str]


class Verbatim(dict[str, Any]):
    """A directory whose keys are user data: never camelCased."""


class Indexed(dict[str, Any]):
    """A directory of numbered entries: an array in recursive JSON."""


class Dynamic:
    """A leaf answered by the handler (token, identity); absent from recursive JSON."""

    def __init__(self, kind: str, account: GceServiceAccount) -> None:
        self.kind = kind
        self.account = account


Node = Value | Dynamic | dict[str, Any]


def _account_tree(account: GceServiceAccount) -> dict[str, Node]:
    return {
        "aliases": account.aliases,
        "email": account.email,
        "identity": Dynamic("identity", account),
        "scopes": account.scopes,
        "token": Dynamic("token", account),
    }


def build(gce: GceState) -> dict[str, Node]:
    """The v1 root: `instance/`, `project/` and `universe/` (google-auth reads the last)."""
    accounts = Verbatim()
    for index, account in enumerate(gce.service_accounts):
        subtree = _account_tree(account)
        if index == 0:
            accounts["default"] = subtree
        accounts[account.email] = subtree
    num = gce.numeric_project_id
    instance: dict[str, Node] = {
        "attributes": Verbatim(gce.attributes),
        "cpu-platform": "Intel Broadwell",
        "description": "",
        "disks": Indexed(
            {"0": {"device-name": "persistent-disk-0", "index": 0, "mode": "READ_WRITE"}}
        ),
        "hostname": gce.hostname,
        "id": gce.instance_id,
        "image": "projects/gke-node-images/global/images/gke-emulator-cos",
        "machine-type": f"projects/{num}/machineTypes/{gce.machine_type}",
        "maintenance-event": "NONE",
        "name": gce.name,
        "network-interfaces": Indexed(
            {
                "0": {
                    "gateway": gce.network_ip.rsplit(".", 1)[0] + ".1",
                    "ip": gce.network_ip,
                    "mac": "42:01:0a:80:00:17",
                    "mtu": 1460,
                    "network": f"projects/{num}/networks/default",
                    "subnetmask": "255.255.240.0",
                }
            }
        ),
        "preempted": "FALSE",
        "scheduling": {
            "automatic-restart": "TRUE",
            "on-host-maintenance": "MIGRATE",
            "preemptible": "FALSE",
        },
        "service-accounts": accounts,
        "tags": ["gke-emulator-node"],
        "zone": f"projects/{num}/zones/{gce.zone}",
    }
    project: dict[str, Node] = {
        "attributes": Verbatim(gce.project_attributes),
        "numeric-project-id": num,
        "project-id": gce.project_id,
    }
    universe: dict[str, Node] = {"universe-domain": "googleapis.com"}
    return {"instance": instance, "project": project, "universe": universe}


def lookup(root: dict[str, Node], parts: list[str]) -> Node | None:
    """The node at `parts` (path segments, no empty ones), or None."""
    node: Node = root
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def listing(directory: dict[str, Node]) -> str:
    """Entries one a line, each ending in a newline; directories end with `/`."""
    return "".join(
        f"{name}/\n" if isinstance(child, dict) else f"{name}\n"
        for name, child in sorted(directory.items())
    )


def leaf_text(value: Value) -> str:
    """A leaf as text: lists one element a line."""
    if isinstance(value, list):
        return "".join(f"{item}\n" for item in value)
    return str(value)


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def to_json(node: Node) -> Any:
    """Recursive JSON as the server renders `?recursive=true`."""
    if isinstance(node, Indexed):
        return [to_json(node[key]) for key in sorted(node, key=int)]
    if isinstance(node, dict):
        verbatim = isinstance(node, Verbatim)
        return {
            (key if verbatim else _camel(key)): to_json(child)
            for key, child in sorted(node.items())
            if not isinstance(child, Dynamic)
        }
    return node


def flat_text(node: Node, prefix: str = "") -> str:
    """`recursive=true&alt=text`: one `relative/path value` line per leaf."""
    if not isinstance(node, dict):
        if isinstance(node, Dynamic):
            return ""
        values = node if isinstance(node, list) else [node]
        return "".join(f"{prefix} {value}\n" for value in values)
    return "".join(
        flat_text(child, f"{prefix}/{key}" if prefix else key)
        for key, child in sorted(node.items())
    )


def render(node: Node, *, recursive: bool, alt: str | None) -> tuple[str, str]:
    """(body, content type) for a directory or plain leaf, honouring recursive/alt."""
    if isinstance(node, dict):
        if recursive:
            if alt == "text":
                return flat_text(node), "application/text"
            return json.dumps(to_json(node)), "application/json"
        if alt == "json":
            return json.dumps(sorted(node)), "application/json"
        return listing(node), "application/text"
    if isinstance(node, Dynamic):  # pragma: no cover - the handler answers these
        raise TypeError("dynamic leaves are rendered by the handler")
    if alt == "json":
        return json.dumps(node), "application/json"
    return leaf_text(node), "application/text"
