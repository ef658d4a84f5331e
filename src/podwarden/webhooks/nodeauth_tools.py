"""The offline halves of `podwarden nodeauth`: loading a cluster, asking, reporting.

`can-i` and `report` judge a cluster with podwarden's own engine: from a file, or from
one list of a live cluster's objects (kube/feed.list_once) — they show what podwarden
*would* decide. `verify` is different (verify.py): it asks the live API server what it
*does* decide.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from podwarden.api.authorization import EXTRA_NODE_NAME, Attributes, parse_field_selector
from podwarden.config import ConfigError
from podwarden.kube import client, feed
from podwarden.nodeauth.decide import Decision
from podwarden.nodeauth.engine import Engine
from podwarden.rbac import service_account_identity
from podwarden.webhooks.authz_settings import NodeAuthSettings
from podwarden.webhooks.authz_view import NodeAuthView


def load_view(*, cluster_file: Path | None, kubeconfig: Path | None) -> NodeAuthView:
    """The cluster from a file, or listed once from the API server (ConfigError if unusable)."""
    view = NodeAuthView()
    if cluster_file is not None:
        view.load_file(cluster_file)
        return view
    if kubeconfig is None:
        raise ConfigError("give --cluster-file or --kubeconfig")

    async def listed() -> None:
        api = client.from_kubeconfig(kubeconfig)
        try:
            for obj in await feed.list_once(api, feed.NODE_GRAPH + feed.RBAC):
                view.apply(obj)
        except (client.ApiUnavailable, client.ApiStatusError) as exc:
            raise ConfigError(f"{kubeconfig}: listing the cluster failed: {exc}") from None
        finally:
            await api.close()

    asyncio.run(listed())
    view.synced.set()
    return view


@dataclass(frozen=True)
class Question:
    """`can-i`'s arguments: VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME]."""

    verb: str
    resource: str
    name: str = ""
    namespace: str = ""
    field_selector: str = ""

    def attributes(self, *, node: str, service_account: str = "") -> Attributes:
        resource, _, subresource = self.resource.partition("/")
        plural, _, group = resource.partition(".")
        if service_account:
            namespace, sep, name = service_account.partition("/")
            if not sep or not namespace or not name:
                raise ConfigError(f"--as-serviceaccount: {service_account!r} is not NAMESPACE/NAME")
            user, groups = service_account_identity(namespace, name)
            extra = ((EXTRA_NODE_NAME, (node,)),) if node else ()
        else:
            user, groups, extra = (
                f"system:node:{node}",
                ("system:nodes", "system:authenticated"),
                (),
            )
        try:
            fields = parse_field_selector(self.field_selector)
        except ValueError as exc:
            raise ConfigError(f"--field-selector: {exc}") from None
        return Attributes(
            user=user,
            groups=groups,
            extra=extra,
            verb=self.verb,
            api_group=group,
            resource=plural,
            subresource=subresource,
            namespace=self.namespace,
            name=self.name,
            field_selector=fields,
        )


def can_i(view: NodeAuthView, settings: NodeAuthSettings, attrs: Attributes) -> Decision:
    engine = Engine(
        view.state,
        rules=settings.rules,
        mode=settings.mode,
        scoped_accounts=frozenset(settings.node_scoped_service_accounts),
    )
    return engine.authorize(attrs)


def answer_text(decision: Decision) -> str:
    words = {"allow": "yes", "deny": "no", "no-opinion": "no opinion"}[decision.outcome]
    return f"{words}: {decision.reason}" if decision.reason else words
