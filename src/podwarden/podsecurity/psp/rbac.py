"""Who may `use` which PodSecurityPolicy, from RBAC objects (offline selection).

PSP asked the authorizer whether the requesting user, or the pod's service
account, may `use` the policy (resource `podsecuritypolicies`, group `policy`)
in the pod's namespace. With `--cluster-file` there is no authorizer, so this
module evaluates the same question over Role / ClusterRole / RoleBinding /
ClusterRoleBinding objects the way Kubernetes' RBAC authorizer does: a
RoleBinding grants only in its own namespace, a ClusterRoleBinding everywhere,
resourceNames narrow a rule to named policies, `*` matches any verb, group or
resource, ClusterRoles with an aggregationRule collect the rules of the
ClusterRoles their matchLabels select, and `system:masters` may do anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podwarden.api import rbac as rbac_core
from podwarden.api.authorization import Attributes
from podwarden.config import ConfigError
from podwarden.podsecurity.psp.model import Policy

PSP_GROUPS = frozenset({"policy", "extensions", "policy.podwarden.io"})
RBAC_KINDS = rbac_core.RBAC_KINDS
SA_PREFIX = rbac_core.SA_PREFIX


class RbacError(ConfigError):
    """An RBAC object could not be understood; the message names the object and key."""


class Rbac:
    """An immutable view of RBAC objects answering `can_use` for PSP selection.

    The evaluation is RBAC's own (api/rbac.py, shared with the node authorizer's report):
    `use` of resource `podsecuritypolicies` in any of PSP's groups, by name.
    """

    def __init__(self, rbac: rbac_core.Rbac | None, *, allow_everything: bool = False) -> None:
        self._rbac = rbac
        self._allow_everything = allow_everything

    @classmethod
    def allow_all(cls) -> Rbac:
        """Every policy usable by everyone (no RBAC objects were given)."""
        return cls(None, allow_everything=True)

    @classmethod
    def from_objects(cls, docs: Iterable[Mapping[str, Any]]) -> Rbac:
        """Build from any objects; kinds other than the four RBAC kinds are ignored."""
        try:
            return cls(rbac_core.Rbac.from_objects(docs))
        except rbac_core.RbacError as exc:
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
            if service_account.startswith(SA_PREFIX):
                sa_ns, _, sa_name = service_account[len(SA_PREFIX) :].partition(":")
            else:
                sa_ns, sa_name = namespace, service_account
            identities.insert(0, rbac_core.service_account_user(sa_ns, sa_name))
        return any(self._allowed(name, u, g, namespace) for u, g in identities)

    def _allowed(self, policy: str, user: str, groups: Sequence[str], namespace: str) -> bool:
        if self._allow_everything:
            return True
        if self._rbac is None:
            return False
        return any(
            self._rbac.allows(
                Attributes(
                    user=user,
                    groups=tuple(groups),
                    verb="use",
                    api_group=group,
                    resource="podsecuritypolicies",
                    namespace=namespace,
                    name=policy,
                )
            )
            is not None
            for group in sorted(PSP_GROUPS)
        )
