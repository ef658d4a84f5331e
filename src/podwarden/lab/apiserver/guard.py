"""Authentication, authorization and admission for the lab API server (see authconfig.py).

The request attributes are derived as kube-apiserver's request-info resolver does
(verb from the method, `list`/`watch`/`deletecollection` for collections), the
authorizer chain stops at the first allow or deny, a webhook's SubjectAccessReview
and AdmissionReview are the v1 documents kube-apiserver sends, and refusals carry the
API server's wording (`… is forbidden: User "…" cannot get resource "secrets" in API
group "" in the namespace "ns": <reason>`).

NodeLabels is the lab's own, independent stand-in for the in-tree NodeRestriction
label rule, written from the Kubernetes documentation: a kubelet may change only its
own Node, and not labels under node-restriction.kubernetes.io/ nor kubernetes.io /
k8s.io labels outside the kubelet's own set.
"""

from __future__ import annotations

import fnmatch
import json
import ssl
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from podwarden.lab.apiserver import authconfig, errors
from podwarden.lab.apiserver.routes import Target


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


def identify(
    request: web.Request, cfg: authconfig.AuthConfig, admin_token: str | None
) -> Identity | None:
    """The caller (None: the lab's administrator); 401 for an unknown token."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    if token and cfg.users:
        found = cfg.user(token)
        if found is not None:
            if request.headers.get("Impersonate-User"):
                raise _forbidden_impersonation(found.user)
            extra = tuple((k, tuple(v)) for k, v in sorted(found.extra.items()))
            return Identity(found.user, tuple(found.groups), extra)
    if admin_token is not None and token != admin_token:
        raise errors.StatusError(401, "Unauthorized", "Unauthorized")
    if token and admin_token is None and cfg.users:
        raise errors.StatusError(401, "Unauthorized", "Unauthorized")
    impersonated = request.headers.get("Impersonate-User")
    if impersonated:
        groups = tuple(request.headers.getall("Impersonate-Group", []))
        return Identity(impersonated, groups)
    return None


def _forbidden_impersonation(user: str) -> errors.StatusError:
    return errors.StatusError(
        403, "Forbidden", f'users is forbidden: User "{user}" cannot impersonate resource "users"'
    )


@dataclass(frozen=True)
class Attrs:
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    field_selector: str


def attributes(request: web.Request, target: Target) -> Attrs:
    method = request.method
    collection = target.name is None
    if method == "GET":
        verb = (
            "watch"
            if request.query.get("watch") in ("1", "true")
            else ("list" if collection else "get")
        )
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "deletecollection" if collection else "delete"
    else:
        verb = method.lower()
    return Attrs(
        verb=verb,
        group=target.rtype.group,
        resource=target.rtype.plural,
        subresource=target.subresource,
        namespace=target.namespace or "",
        name=target.name or "",
        field_selector=request.query.get("fieldSelector", ""),
    )


def _matches(patterns: list[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _table(rules: list[authconfig.TableRule], who: Identity, attrs: Attrs) -> tuple[str, str]:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for rule in rules:
        subject = (rule.users and _matches(rule.users, who.user)) or any(
            g in who.groups for g in rule.groups
        )
        if (
            subject
            and _matches(rule.verbs, attrs.verb)
            and _matches(rule.resources, resource)
            and _matches(rule.apiGroups, attrs.group)
        ):
            return rule.decision, rule.reason
    return "no-opinion", ""


def sar_body(who: Identity, attrs: Attrs) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "namespace": attrs.namespace, "verb": attrs.verb, "group": attrs.group,
        "resource": attrs.resource, "subresource": attrs.subresource, "name": attrs.name,
    }  # fmt: skip
    if attrs.field_selector:
        resource["fieldSelector"] = {"rawSelector": attrs.field_selector}
    spec: dict[str, Any] = {
        "user": who.user,
        "groups": list(who.groups),
        "resourceAttributes": resource,
    }
    if who.extra:
        spec["extra"] = {k: list(v) for k, v in who.extra}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


async def _post(url: str, ca_file: Any, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(ca_file))
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.post(url, json=body, ssl=context) as response,
    ):
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:200]}")
        answer: dict[str, Any] = await response.json()
        return answer


async def authorize(cfg: authconfig.AuthConfig, who: Identity, attrs: Attrs) -> tuple[str, str]:
    """("allow" | "deny" | "no-opinion", reason) from the chain."""
    for authorizer in cfg.authorizers:
        if not authorizer.selects(who.user, who.groups):
            continue
        if isinstance(authorizer, authconfig.TableAuthorizer):
            decision, reason = _table(authorizer.rules, who, attrs)
        else:
            try:
                answer = await _post(
                    authorizer.url, authorizer.caFile, sar_body(who, attrs), authorizer.timeout
                )
                status = answer.get("status") or {}
                reason = str(status.get("reason") or "")
                decision = (
                    "allow"
                    if status.get("allowed")
                    else ("deny" if status.get("denied") else "no-opinion")
                )
            except Exception as exc:  # the webhook could not answer: its failure policy decides
                if authorizer.failurePolicy == "NoOpinion":
                    continue
                decision, reason = "deny", f"authorization webhook failed: {exc}"
        if decision != "no-opinion":
            return decision, reason
    return "no-opinion", ""


def forbidden(who: Identity, attrs: Attrs, reason: str) -> errors.StatusError:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{who.user}" cannot {attrs.verb} resource "{resource}" '
        f'in API group "{attrs.group}" {scope}'
    )
    return errors.StatusError(403, "Forbidden", f"{message}: {reason}" if reason else message)


# ---- admission ---------------------------------------------------------------------

_KUBELET_LABELS = set(
    [
        "kubernetes.io/hostname",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
    ]
)
_KUBELET_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _kubelet_owns(key: str) -> bool:
    return key in _KUBELET_LABELS or any(_domain_is(key, d) for d in _KUBELET_DOMAINS)


def _domain_is(key: str, domain: str) -> bool:
    prefix = key.split("/", 1)[0] if "/" in key else ""
    return prefix == domain or prefix.endswith("." + domain)


def _node_label_refusal(
    node: str, target: str, new: dict[str, Any] | None, old: dict[str, Any] | None
) -> str:
    if target != node:
        return f'node "{node}" is not allowed to modify node "{target}"'
    before = ((old or {}).get("metadata") or {}).get("labels") or {}
    after = ((new or {}).get("metadata") or {}).get("labels") or {}
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    bad = []
    for key in changed:
        kubernetes = _domain_is(key, "kubernetes.io") or _domain_is(key, "k8s.io")
        if _domain_is(key, "node-restriction.kubernetes.io") or (
            kubernetes and not _kubelet_owns(key)
        ):
            bad.append(key)
    return f"is not allowed to modify labels: {', '.join(bad)}" if bad else ""


async def admit(
    cfg: authconfig.AuthConfig,
    who: Identity,
    attrs: Attrs,
    operation: str,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None,
    *,
    dry_run: bool,
) -> None:
    """Run the admission chain; raise the refusal as a StatusError."""
    for step in cfg.admission:
        if not step.selects(who.user, who.groups):
            continue
        if isinstance(step, authconfig.NodeLabelsAdmission):
            node = who.user.removeprefix("system:node:")
            if (
                attrs.resource == "nodes"
                and who.user.startswith("system:node:")
                and "system:nodes" in who.groups
            ):
                why = _node_label_refusal(
                    node,
                    attrs.name or ((obj or {}).get("metadata") or {}).get("name", ""),
                    obj,
                    old,
                )
                if why:
                    raise errors.StatusError(
                        403, "Forbidden", f'nodes "{attrs.name}" is forbidden: {why}'
                    )
            continue
        kind = (obj or old or {}).get("kind", "")
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": str(uuid.uuid4()),
                "kind": {"group": attrs.group, "version": "v1", "kind": kind},
                "resource": {"group": attrs.group, "version": "v1", "resource": attrs.resource},
                "subResource": attrs.subresource,
                "name": attrs.name,
                "namespace": attrs.namespace,
                "operation": operation,
                "userInfo": {"username": who.user, "groups": list(who.groups),
                             "extra": {k: list(v) for k, v in who.extra}},
                "object": obj,
                "oldObject": old,
                "dryRun": dry_run,
            },
        }  # fmt: skip
        try:
            answer = await _post(step.url, step.caFile, review, step.timeout)
            response = answer.get("response") or {}
        except Exception as exc:
            if step.failurePolicy == "Ignore":
                continue
            raise errors.StatusError(
                500, "InternalError", f"admission webhook failed: {exc}"
            ) from None
        if not response.get("allowed"):
            status = response.get("status") or {}
            code = int(status.get("code") or 403)
            raise errors.StatusError(
                code, str(status.get("reason") or "Forbidden"), str(status.get("message") or "")
            )


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
