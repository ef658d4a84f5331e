"""Who is asking: a kubelet (`system:node:<name>` in `system:nodes`) or a node-bound
service account, and which node.

Upstream's nodeidentifier.NewDefaultNodeIdentifier: a user is a node when its name
starts with `system:node:` AND it is in the group `system:nodes`; the node name is
the rest of the user name, and may be empty ("unidentifiable node"). A service
account token bound to a pod carries the pod's node in `extra` (1.32+), which is
what confines a node-scoped identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from podwarden.api.authorization import EXTRA_NODE_NAME, Attributes

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
SA_PREFIX = "system:serviceaccount:"


def node_identity(user: str, groups: tuple[str, ...] | list[str]) -> tuple[str, bool]:
    """(node name, is a node); the name is '' for an unidentifiable node."""
    if not user.startswith(NODE_USER_PREFIX) or NODES_GROUP not in groups:
        return "", False
    return user[len(NODE_USER_PREFIX) :], True


@dataclass(frozen=True, slots=True)
class ServiceAccountIdentity:
    """A service account user, with the node its token is bound to ('' when unbound)."""

    namespace: str
    name: str
    node: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def service_account_identity(attrs: Attributes) -> ServiceAccountIdentity | None:
    """The service account a request comes from (None for any other user)."""
    if not attrs.user.startswith(SA_PREFIX):
        return None
    namespace, sep, name = attrs.user[len(SA_PREFIX) :].partition(":")
    if not sep or not namespace or not name:
        return None
    return ServiceAccountIdentity(namespace, name, attrs.extra_value(EXTRA_NODE_NAME))
