"""One authorizer over the cluster state: the node authorizer, node-scoped identities, the mode.

kube-apiserver asks the webhook only about the users its matchConditions select
(`system:nodes`, node-scoped service accounts), but the engine answers any review:
a node goes to the node authorizer, a node-scoped service account to the scoped
authorizer, anyone else gets no opinion. `mode="deny"` turns a node's no-opinion on
a resource the node authorizer subdivides into an explicit deny, so that a broad
RBAC binding for `system:nodes` cannot grant what the graph refuses; the reason is
upstream's, prefixed with the mode that made it a deny.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from podwarden.api.authorization import Attributes
from podwarden.nodeauth.decide import Decision, NodeAuthorizer
from podwarden.nodeauth.populate import ClusterState
from podwarden.nodeauth.scoped import ScopedAuthorizer
from podwarden.nodeauth.versions import LATEST_RULES, Rules

Mode = Literal["no-opinion", "deny"]
MODES: tuple[Mode, ...] = ("no-opinion", "deny")


@dataclass
class Engine:
    state: ClusterState
    rules: Rules = LATEST_RULES
    mode: Mode = "no-opinion"
    scoped_accounts: frozenset[str] = field(default_factory=frozenset)
    """`namespace/name` of service accounts node-scoped by configuration."""

    def __post_init__(self) -> None:
        self.nodes = NodeAuthorizer(self.state.graph, self.rules)
        self.scoped = ScopedAuthorizer(self.state.graph, self.is_scoped)

    def is_scoped(self, account: str) -> bool:
        return account in self.scoped_accounts or account in self.state.node_scoped

    def authorize(self, attrs: Attributes) -> Decision:
        if attrs.user.startswith("system:node:"):
            decision = self.nodes.authorize(attrs)
            if self.mode == "deny" and decision.graph_governed and not decision.allowed:
                reason = decision.reason or "not allowed for nodes"
                return Decision("deny", f"podwarden node authorizer (mode deny): {reason}", True)
            return decision
        return self.scoped.authorize(attrs)
