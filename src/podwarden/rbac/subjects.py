"""Binding subjects, and the user names and groups Kubernetes gives service accounts.

Upstream: appliesToUser in pkg/registry/rbac/validation/rule.go and
k8s.io/apiserver/pkg/authentication/serviceaccount. A User subject matches the
user name exactly (`*` is not a wildcard), a Group subject any of the request's
groups exactly. A ServiceAccount subject matches the user
`system:serviceaccount:<namespace>:<name>`, its namespace defaulting to the
RoleBinding's; a ClusterRoleBinding has no namespace to lend, so an unqualified
ServiceAccount subject there matches nobody (the loader refuses it, as the API
server does). Groups are taken as given: the authenticator, not RBAC, adds
`system:authenticated` and the service-account groups, so `service_account_identity`
builds what a service account's token authenticates as.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
PRIVILEGED_GROUP = "system:masters"
"""Not RBAC: kube-apiserver puts a privileged-groups authorizer in front of every
other (pkg/kubeapiserver/authorizer: authorizerfactory.NewPrivilegedGroups), which
allows any request from this group. `Authorizer.authorize` therefore never
allows for it; a caller modelling the whole chain checks it first (the PSP
selection does), and `Authorizer.allowed_subjects` lists it first, as upstream's
subject locator does."""

SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # User | Group | ServiceAccount
    name: str
    namespace: str = ""  # ServiceAccount only

    def describe(self, binding_namespace: str = "") -> str:
        """As upstream's describeSubject: `User "x"`, `ServiceAccount "name/namespace"`."""
        if self.kind == "ServiceAccount":
            return f'{self.kind} "{self.name}/{self.namespace or binding_namespace}"'
        return f'{self.kind} "{self.name}"'


def applies_to(subject: Subject, user: str, groups: Sequence[str], namespace: str) -> bool:
    """Does `subject` (of a binding in `namespace`; "" for a ClusterRoleBinding) name
    this user or one of its groups?"""
    if subject.kind == "User":
        return user == subject.name
    if subject.kind == "Group":
        return subject.name in groups
    if subject.kind == "ServiceAccount":
        sa_namespace = subject.namespace or namespace
        return bool(sa_namespace) and user == service_account_user(sa_namespace, subject.name)
    return False


def service_account_user(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_service_account_user(user: str) -> tuple[str, str] | None:
    """(namespace, name) of `system:serviceaccount:<ns>:<name>`; None for any other user."""
    if not user.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = user[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name


def service_account_identity(namespace: str, name: str) -> tuple[str, tuple[str, ...]]:
    """The user name and groups a token of this service account authenticates as."""
    groups = (ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{namespace}", ALL_AUTHENTICATED)
    return service_account_user(namespace, name), groups


def pod_service_account(account: str, namespace: str) -> tuple[str, tuple[str, ...]]:
    """The identity of a pod's service account: `account` is the pod's
    serviceAccountName (in the pod's `namespace`) or a full
    `system:serviceaccount:<ns>:<name>` user name."""
    split = split_service_account_user(account)
    if split is None:
        return service_account_identity(namespace, account)
    return service_account_identity(*split)
