"""`podwarden nodeauth verify`: does the live API server keep node N to its own pods' data?

The check the node-authorization walkthrough does by hand, with the caller's rights:

1. a SubjectAccessReview for `system:node:N` (groups `system:nodes`,
   `system:authenticated`): may it get a secret no pod of N uses? (one used by a pod
   on another node when the caller may list pods, else a name no pod uses). Protected
   when the answer is not allowed.
2. a server-side dry-run PATCH of N's own Node, impersonating `system:node:N`, that
   adds a `node-restriction.kubernetes.io/` label, and another that relabels a
   different node: protected when NodeRestriction (in-tree or podwarden's webhook)
   refuses with 403. Dry-run: nothing is written. A refusal of the impersonation
   itself means the caller lacks `impersonate` rights: the check is inconclusive.

Exit 0 when every check shows protection, 1 when one shows a hole, 2 when a check
could not be made.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from podwarden.api import admission
from podwarden.kube import access, client
from podwarden.nodeauth import references

VERIFY_LABEL = "node-restriction.kubernetes.io/podwarden-verify"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str  # protected | exposed | inconclusive
    detail: str


async def _foreign_secret(api: client.Api, node: str) -> tuple[str, str, str]:
    """(namespace, name, why chosen) of a secret that no pod of `node` uses."""
    try:
        pods = (await api.get_json("/api/v1/pods")).get("items") or []
    except (client.ApiStatusError, client.ApiUnavailable):
        pods = []
    mine: set[tuple[str, str]] = set()
    theirs: dict[tuple[str, str], str] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        on = (pod.get("spec") or {}).get("nodeName") or ""
        for secret in references.secret_names(pod):
            if on == node:
                mine.add((namespace, secret))
            elif on:
                theirs.setdefault(
                    (namespace, secret), f"pod {namespace}/{meta.get('name')} on {on}"
                )
    for key, why in sorted(theirs.items()):
        if key not in mine:
            return key[0], key[1], f"used by {why}"
    return "default", f"podwarden-verify-{uuid.uuid4().hex[:8]}", "a name no pod uses"


async def check_secret(api: client.Api, node: str) -> Check:
    namespace, name, why = await _foreign_secret(api, node)
    body = admission.subject_access_review(
        user=f"system:node:{node}",
        groups=["system:nodes", "system:authenticated"],
        namespace=namespace,
        verb="get",
        group="",
        resource="secrets",
        name=name,
    )
    label = f"system:node:{node} get secret {namespace}/{name} ({why})"
    try:
        allowed, reason = await access.review(api, body)
    except (client.ApiStatusError, client.ApiUnavailable) as exc:
        return Check(label, "inconclusive", f"SubjectAccessReview failed: {exc}")
    if allowed:
        return Check(label, "exposed", f"allowed{': ' + reason if reason else ''}")
    return Check(label, "protected", f"refused{': ' + reason if reason else ''}")


async def check_label(api: client.Api, node: str, target: str) -> Check:
    label = f"system:node:{node} labels node {target} with {VERIFY_LABEL} (dry run)"
    patch: dict[str, Any] = {"metadata": {"labels": {VERIFY_LABEL: "true"}}}
    try:
        code, message = await access.patch_as(
            api,
            f"/api/v1/nodes/{target}",
            patch,
            user=f"system:node:{node}",
            groups=("system:nodes", "system:authenticated"),
        )
    except client.ApiUnavailable as exc:
        return Check(label, "inconclusive", str(exc))
    if code < 300:
        return Check(label, "exposed", "the API server accepted the change (dry run)")
    if code == 403 and "impersonate" in message:
        return Check(label, "inconclusive", f"the caller may not impersonate nodes: {message}")
    if code == 403:
        return Check(label, "protected", message)
    if code == 404:
        return Check(label, "inconclusive", f"node {target} not found")
    return Check(label, "inconclusive", f"HTTP {code}: {message}")


async def run(api: client.Api, node: str, *, other_node: str = "") -> list[Check]:
    checks = [await check_secret(api, node), await check_label(api, node, node)]
    if other_node:
        checks.append(await check_label(api, node, other_node))
    return checks


def exit_code(checks: list[Check]) -> int:
    if any(c.verdict == "exposed" for c in checks):
        return 1
    if any(c.verdict == "inconclusive" for c in checks):
        return 2
    return 0
