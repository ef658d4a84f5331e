"""Who may `use` which PodSecurityPolicy, from RBAC objects (offline selection).

PSP asked the authorizer whether the requesting user, or the pod's service
account, may `use` the policy (resource `podsecuritypolicies`) in the pod's
namespace. With `--cluster-file` or `podwarden check` there is no authorizer, so
the same question goes to `podwarden.rbac` over the RBAC objects given, in each
group a grant may name: `policy` (and `extensions`, its old home) and
`policy.podwarden.io` for podwarden's CRD form.

One thing here is not RBAC: a member of `system:masters` may use every policy,
because kube-apiserver's privileged-groups authorizer allows it before RBAC is
asked (see `podwarden.rbac.PRIVILEGED_GROUP`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podwarden import rbac
from podwarden.config import ConfigError
from podwarden.podsecurity.psp.model import Policy

PSP_GROUPS = ("policy", "extensions", "policy.podwarden.io")
RESOURCE = "podsecuritypolicies"


class RbacError(rbac.RbacError, ConfigError):
    """An RBAC object could not be understood; the message names the object and key."""


class Rbac:
    """An immutable view of RBAC objects answering `can_use` for PSP selection."""

    def __init__(self, authorizer: rbac.Authorizer | None) -> None:
        self._authorizer = authorizer  # None: every policy usable by everyone

    @classmethod
    def allow_all(cls) -> Rbac:
        """Every policy usable by everyone (no RBAC objects were given)."""
        return cls(None)

    @classmethod
    def from_objects(cls, docs: Iterable[Mapping[str, Any]]) -> Rbac:
        """Build from any objects; kinds other than the four RBAC kinds are ignored."""
        try:
            return cls(rbac.Authorizer.from_objects(docs))
        except rbac.RbacError as exc:
            raise RbacError(str(exc)) from None

    def can_use(
        self,
        policy: str | Policy,
        *,
        user: str,
        groups: Sequence[str] = (),
        service_account: str | None = None,
        namespace: str,
    ) -> bool:
        """May the user, or the pod's service account, `use` `policy` in `namespace`?

        `service_account` is the pod's serviceAccountName (in `namespace`) or a full
        `system:serviceaccount:<ns>:<name>` user name.
        """
        name = policy.name if isinstance(policy, Policy) else policy
        identities = [(user, tuple(groups))]
        if service_account:
            identities.insert(0, rbac.pod_service_account(service_account, namespace))
        return any(self._allowed(name, u, g, namespace) for u, g in identities)

    def _allowed(self, policy: str, user: str, groups: Sequence[str], namespace: str) -> bool:
        if self._authorizer is None or rbac.PRIVILEGED_GROUP in groups:
            return True
        return any(
            self._authorizer.allowed(
                user=user,
                groups=groups,
                verb="use",
                api_group=group,
                resource=RESOURCE,
                name=policy,
                namespace=namespace,
            )
            for group in PSP_GROUPS
        )
