"""GCE instance and project attributes: an allow-list, as the GKE metadata server keeps.

Attributes are where node secrets live, under names nobody can list in
advance: `kube-env`, `startup-script`, `windows-startup-script-ps1`,
`sysprep-specialize-script-cmd`, `gce-container-declaration`, `ssh-keys`,
`user-data`... A deny-list missed some of them (`windows-startup-script-*`,
`sysprep-specialize-script-*` and `gce-container-declaration` were served
with their content). So, like GKE's metadata server under Workload Identity,
pods see only the attributes that describe the cluster, `cluster-name`,
`cluster-location` and `cluster-uid` (the instance attributes that server
answers; it answers no project attribute), and every other attribute is
concealed: its own path, the directory listing and the recursive JSON alike.
A policy file extends the list (`allowedAttributes`, `allowedProjectAttributes`)
and `concealedAttributes` conceals a name even when it is listed.

Listings are filtered rather than refused, because clients list
`attributes/` to find what they may read. The filtered answers keep the
upstream's ETag (so `wait_for_change` with `last_etag` still works); it may
change when a concealed attribute changes, which tells when, never what.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from podwarden.metadata.model import ResponseTransform

GKE_ATTRIBUTES = ("cluster-location", "cluster-name", "cluster-uid")
"""Instance attributes the GKE metadata server serves to pods (Workload Identity)."""


def listing_filter(allowed: Iterable[str]) -> ResponseTransform:
    """A transform keeping only the allowed names of a directory listing (one per line)."""
    keep = frozenset(allowed)

    def transform(body: bytes) -> bytes:
        lines = body.decode("utf-8", "replace").splitlines()
        return "".join(f"{line}\n" for line in lines if line in keep).encode()

    return transform


def json_subset(body: bytes, keep: Iterable[str]) -> bytes:
    """Only the `keep` keys of a JSON object; anything else becomes `{}`.

    What cannot be read is not passed on.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return b"{}"
    if not isinstance(document, dict):
        return b"{}"
    kept = {key: document[key] for key in keep if key in document}
    return json.dumps(kept, separators=(",", ":")).encode()


def recursive_filter(allowed: Iterable[str]) -> ResponseTransform:
    """A transform keeping only the allowed keys of `attributes/?recursive=true` (JSON)."""
    keep = tuple(dict.fromkeys(allowed))
    return lambda body: json_subset(body, keep)
