"""Wiring for `podwarden webhook`: the cluster source, the authorizer, TLS, the listener.

Two sources, one view: `--kubeconfig` (or `--in-cluster`, the pod's service
account) follows the API server's namespaces with the reflector and asks it
SubjectAccessReviews for PSP selection (and, in mode psp, follows the cluster's
PodSecurityPolicy objects: `clusterpolicies`); `--cluster-file` reads the
namespaces and RBAC objects from a file (tests, clusters without PSP RBAC).
`Running` is the started server; tests and the benchmark use it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from podwarden import logs
from podwarden.config import ConfigError
from podwarden.kube import client, reflector, store, sync
from podwarden.webhooks import access, app, clusterfile, clusterpolicies, tls
from podwarden.webhooks.settings import Settings

_log = logs.get("webhooks.server")


@dataclass
class Running:
    """A listening webhook; `stop()` ends its tasks and closes the listener."""

    url: str
    webhook: app.Webhook
    tls: tls.ReloadingContext
    runner: web.AppRunner
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    api: client.Api | None = None

    async def stop(self) -> None:
        await stop_serving(self.tasks, self.runner, self.api)


async def stop_serving(
    tasks: list[asyncio.Task[None]], runner: web.AppRunner, api: client.Api | None
) -> None:
    """Cancel the background tasks, close the listener (requests in flight finish), then the
    API connection: how both webhooks stop."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await runner.cleanup()
    if api is not None:
        await api.close()


async def start(
    *,
    host: str,
    port: int,
    tls_cert: Path,
    tls_key: Path,
    settings: Settings,
    kubeconfig: Path | None = None,
    cluster_file: Path | None = None,
    in_cluster: bool = False,
    poll_interval: float = 1.0,
    sync_timeout: float = 30.0,
    policy_probe_interval: float = 30.0,
) -> Running:
    """Start serving; raises ConfigError for unusable flags or files."""
    if sum((kubeconfig is not None, cluster_file is not None, in_cluster)) != 1:
        raise ValueError("exactly one of kubeconfig, cluster_file and in_cluster is required")
    metrics = app.Metrics()
    context = tls.ReloadingContext(tls_cert, tls_key, on_load=metrics.certificate_loaded)
    view = store.ClusterView()
    tasks: list[asyncio.Task[None]] = []
    api: client.Api | None = None
    authorizer: access.Authorizer
    cluster_policies: clusterpolicies.ClusterPolicies | None = None
    if cluster_file is not None:
        if settings.mode == "psp" and not settings.policies:
            raise ConfigError(
                "psp.policies: mode psp with --cluster-file needs at least one policy file "
                "(PodSecurityPolicy objects are read from the cluster only with --kubeconfig "
                "or --in-cluster)"
            )
        source = clusterfile.ClusterFile(cluster_file)
        await source.load(view)
        authorizer = access.RbacAuthorizer(lambda: source.rbac)
        tasks.append(asyncio.create_task(source.follow(view, poll_interval=poll_interval)))
    else:
        api = sync.open_api(kubeconfig=kubeconfig, in_cluster=in_cluster)
        authorizer = access.SarAuthorizer(api)
        # The webhook reads only namespace labels: no pod watch over the whole cluster.
        follow = reflector.run(view, api=api, node_name=None, namespaces_only=True)
        tasks.append(follow)
        if settings.mode == "psp" and settings.cluster_policies:
            cluster_policies = clusterpolicies.ClusterPolicies(
                api,
                file_policies=settings.policies,
                metrics=metrics,
                probe_interval=policy_probe_interval,
            )
            tasks.append(asyncio.create_task(cluster_policies.run(), name="cluster-policies"))
        synced = await sync.first_sync(view.synced, follow, timeout=sync_timeout)
        if synced and cluster_policies is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cluster_policies.synced.wait(), sync_timeout)
    tasks.append(asyncio.create_task(context.follow(poll_interval=poll_interval)))
    webhook = app.Webhook(
        settings=settings,
        view=view,
        authorizer=authorizer,
        metrics=metrics,
        cluster_policies=cluster_policies,
    )
    runner = web.AppRunner(app.build(webhook), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context.context, backlog=1024)
    await site.start()
    port = port or int(runner.addresses[0][1])
    shown = f"[{host}]" if ":" in host else host
    url = f"https://{shown}:{port}"
    _log.info("webhook listening", url=url, mode=settings.mode)
    return Running(url, webhook, context, runner, tasks, api)
