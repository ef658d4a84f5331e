"""Pod identity beside a proxy: follow the cluster view, then start the identity layer.

`start` opens the plan's cluster source (a file, or the API server watched for
this node's pods), waits a bounded time for the first list, and starts the
identity service on that view; `Running` hands the proxy its handlers and the
firewall with identity rules, and closes everything in order.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

from podwarden import logs
from podwarden.metadata import firewall
from podwarden.metadata.identity.config import Plan
from podwarden.metadata.settings import ProxySettings

if TYPE_CHECKING:  # the cluster client and STS stack load only when identity is on
    from podwarden.kube import client
    from podwarden.metadata.identity import service


class Running:
    """Identity beside a proxy: the view's source task and the identity layer."""

    def __init__(
        self, identity: service.Identity, source: asyncio.Task[None], api: client.Api | None
    ) -> None:
        self.identity = identity
        self._source = source
        self._api = api

    def proxy_kwargs(self, settings: ProxySettings) -> dict[str, Any]:
        """What `proxy.start` needs: the handlers and the firewall with identity rules."""
        built = firewall.build(settings.provider, policy_file=settings.policy_file)
        return {"identity": self.identity.handlers, "fw": self.identity.firewall(built)}

    async def close(self) -> None:
        self._source.cancel()
        await asyncio.gather(self._source, return_exceptions=True)
        await self.identity.close()
        if self._api is not None:
            await self._api.close()


async def start(plan: Plan, *, upstream_url: str, sync_timeout: float = 10.0) -> Running:
    """Start the view's source, wait (bounded) for the first list, start identity."""
    from podwarden.kube import filesource, lookup, reflector, store, sync
    from podwarden.metadata.identity import service
    from podwarden.metadata.identity.events import LightkubeSink

    log = logs.get("metadata.identity")
    view = store.ClusterView()
    api: client.Api | None = None
    sink = None
    if plan.cluster_file is not None:
        source = filesource.run(view, plan.cluster_file)
    else:
        api = sync.open_api(kubeconfig=plan.kubeconfig, in_cluster=plan.in_cluster)
        source = reflector.run(view, api=api, node_name=plan.node)
        sink = LightkubeSink(api.lightkube(), node=plan.node or "")
    if not await sync.first_sync(view.synced, source, timeout=sync_timeout):
        log.warning("cluster view not synced yet; unknown pods get no identity until it is")
    verify_lookup = None
    if api is not None:  # consistent reads confirm the view before credentials go out
        verify_lookup = functools.partial(lookup.pods_with_ip, api, node=plan.node or "")
    identity = await service.start(
        plan.settings,
        view=view,
        upstream_url=upstream_url,
        sink=sink,
        verify_lookup=verify_lookup,
    )
    log.info("pod identity on", provider=plan.settings.provider.value, pods=len(view.pods()))
    return Running(identity, source, api)
