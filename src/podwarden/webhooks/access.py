"""Who may `use` which PodSecurityPolicy: from RBAC objects, or asked of the API server.

The PSP engine is pure and synchronous; it takes either an `Rbac` or a callback
`(policy, namespace) -> bool`. With `--cluster-file` the RBAC objects in the file
answer directly. With `--kubeconfig` the webhook asks the cluster's authorizer
with SubjectAccessReviews (verb `use`, resource `podsecuritypolicies`, group
`policy`, or `policy.podwarden.io` for a policy in podwarden's CRD form, whose
RBAC grants name that group) for the requesting user and for the pod's service account, before
calling the engine; answers are cached briefly because every pod create asks
the same few questions. A review that cannot be made grants nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from podwarden import logs, rbac
from podwarden.api import admission
from podwarden.kube import access as kube_access
from podwarden.kube import client
from podwarden.podsecurity.psp import engine
from podwarden.podsecurity.psp.model import PODWARDEN_GROUP

_log = logs.get("webhooks.access")


@dataclass(frozen=True)
class Requester:
    """The identity from the AdmissionReview's userInfo, plus the pod's service account."""

    user: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    service_account: str = "default"


def rbac_group(policy: engine.Policy) -> str:
    """The API group RBAC grants `use` of this policy in: PSP's `policy` (also for the
    old extensions/v1beta1 form), or podwarden's CRD group for a policy in that form."""
    group = policy.api_version.partition("/")[0] if "/" in policy.api_version else ""
    return PODWARDEN_GROUP if group == PODWARDEN_GROUP else "policy"


class Authorizer(Protocol):
    async def for_request(
        self, who: Requester, *, namespace: str, policies: Sequence[engine.Policy]
    ) -> engine.Rbac | engine.CanUse: ...


class RbacAuthorizer:
    """RBAC objects from the cluster file; no RBAC objects at all means every policy is usable
    (the same rule as `podwarden check --policy`)."""

    def __init__(self, current: Callable[[], engine.Rbac]) -> None:
        self._current = current

    async def for_request(
        self, who: Requester, *, namespace: str, policies: Sequence[engine.Policy]
    ) -> engine.Rbac | engine.CanUse:
        return self._current()


class SarAuthorizer:
    """SubjectAccessReviews against the API server, cached for `ttl` seconds."""

    def __init__(self, api: client.Api, *, ttl: float = 10.0) -> None:
        self._api = api
        self._ttl = ttl
        self._cache: dict[tuple[object, ...], tuple[float, bool]] = {}

    async def _may_use(
        self,
        policy: str,
        *,
        group: str,
        user: str,
        groups: Sequence[str],
        uid: str,
        extra: dict[str, list[str]],
        namespace: str,
    ) -> bool:
        key = (group, policy, user, tuple(groups), namespace)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        body = admission.subject_access_review(
            user=user,
            groups=list(groups),
            uid=uid,
            extra=extra,
            namespace=namespace,
            verb="use",
            group=group,
            resource="podsecuritypolicies",
            name=policy,
        )
        try:
            allowed, _reason = await kube_access.review(self._api, body)
        except (client.ApiStatusError, client.ApiUnavailable) as exc:
            _log.error("SubjectAccessReview failed; granting nothing", error=str(exc))
            return False  # not cached: the next request asks again
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now + self._ttl, allowed)
        return allowed

    async def for_request(
        self, who: Requester, *, namespace: str, policies: Sequence[engine.Policy]
    ) -> engine.Rbac | engine.CanUse:
        sa_user, sa_groups = rbac.pod_service_account(who.service_account, namespace)
        extra = {k: list(v) for k, v in who.extra}
        checks = []
        for policy in policies:
            group = rbac_group(policy)
            checks.append(
                self._may_use(
                    policy.name,
                    group=group,
                    user=who.user,
                    groups=who.groups,
                    uid=who.uid,
                    extra=extra,
                    namespace=namespace,
                )
            )
            checks.append(
                self._may_use(
                    policy.name,
                    group=group,
                    user=sa_user,
                    groups=sa_groups,
                    uid="",
                    extra={},
                    namespace=namespace,
                )
            )
        answers = await asyncio.gather(*checks)
        usable = {
            policy.name
            for index, policy in enumerate(policies)
            if answers[2 * index] or answers[2 * index + 1]
        }
        bound_namespace = namespace

        def can_use(name: str, ns: str) -> bool:
            return ns == bound_namespace and name in usable

        return can_use
