"""The identity flags of `podwarden proxy`, and running identity beside the proxy.

Identity is on when the proxy is given a cluster view: `--kubeconfig F
--node NAME`, `--in-cluster --node NAME` (the agent watches only its own
node's pods) or `--cluster-file F`. Flags are checked before anything starts;
errors are ConfigErrors naming the flag.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from podwarden import logs
from podwarden.config import ConfigError
from podwarden.metadata import firewall
from podwarden.metadata.identity import tokens
from podwarden.metadata.identity.settings import IdentitySettings, parse_duration
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings

if TYPE_CHECKING:  # the cluster client and STS stack load only when identity is on
    from podwarden.kube import client
    from podwarden.metadata.identity import service

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: list[Callable[[F], F]] = [
    click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Pod identity: watch pods through this kubeconfig.",
    ),
    click.option(
        "--in-cluster",
        is_flag=True,
        default=False,
        help="Pod identity: watch pods with the service-account token.",
    ),
    click.option("--node", default=None, help="Pod identity: this node's name (pods to watch)."),
    click.option(
        "--cluster-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Pod identity: pods and namespaces from a YAML file, polled every second. "
        "No consistent read: the file alone decides, so when an address passes to a new "
        "pod, the old pod's role is served on it until the rewritten file is read "
        "(up to 1 s after the write). Remove a pod from the file before its address is reused.",
    ),
    click.option(
        "--base-role-arn",
        default=None,
        help="AWS: completes role names, e.g. arn:aws:iam::123456789012:role/",
    ),
    click.option("--default-role", default=None, help="AWS: role for pods without annotation."),
    click.option("--sts-endpoint", default=None, help="AWS: STS endpoint URL."),
    click.option("--sts-region", default="us-east-1", show_default=True, help="AWS: STS region."),
    click.option(
        "--session-duration",
        default="1h",
        show_default=True,
        help="AWS: AssumeRole duration (20m-12h).",
    ),
    click.option(
        "--session-tags/--no-session-tags",
        default=False,
        show_default=True,
        help="AWS: tag sessions with namespace, pod and service account.",
    ),
    click.option(
        "--session-scope",
        type=click.Choice(["pod", "role"]),
        default="pod",
        show_default=True,
        help="AWS: `pod` (default): one STS session per pod, named namespace.pod, so "
        "CloudTrail attributes each call to its pod; costs one AssumeRole per pod per "
        "refresh period. `role`: one session per (role, external id) shared by all its "
        "pods — one AssumeRole per role per period, but CloudTrail sees only "
        "podwarden-<role> (no session tags).",
    ),
    click.option(
        "--container-credentials-secret-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="AWS: serve GET /v1/credentials with per-pod tokens keyed by this secret "
        "(print a pod's token with `podwarden identity container-token`).",
    ),
    click.option(
        "--gcp-iam-endpoint",
        default="https://iamcredentials.googleapis.com",
        show_default=True,
        help="GCP: IAM Credentials API base URL.",
    ),
    click.option(
        "--namespace-restriction/--no-namespace-restriction",
        default=True,
        show_default=True,
        help="Namespaces must permit the identities their pods use.",
    ),
    click.option(
        "--address-wait",
        default="2s",
        show_default=True,
        help="How long a request from an unknown address waits for the view.",
    ),
    click.option(
        "--verify-interval",
        default="250ms",
        show_default=True,
        help="With an API: least time between consistent reads of one address "
        "(each credential answer is confirmed by a read that began after the request).",
    ),
    click.option(
        "--prefetch/--no-prefetch",
        default=True,
        show_default=True,
        help="Fetch credentials when a pod with an identity appears.",
    ),
]


def options(func: F) -> F:
    """Add every identity flag to a click command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


@dataclass(frozen=True)
class Plan:
    """Validated identity flags: where the view comes from, and the settings."""

    settings: IdentitySettings
    kubeconfig: Path | None
    in_cluster: bool
    node: str | None
    cluster_file: Path | None


def parse(provider: ProviderName, flags: dict[str, Any]) -> Plan | None:
    """The identity plan, or None when no cluster source was given (identity off)."""
    kubeconfig, in_cluster = flags.get("kubeconfig"), bool(flags.get("in_cluster"))
    cluster_file, node = flags.get("cluster_file"), flags.get("node")
    sources = sum(1 for s in (kubeconfig, in_cluster or None, cluster_file) if s)
    if sources == 0:
        return None
    if sources > 1:
        raise ConfigError("--kubeconfig, --in-cluster and --cluster-file: give only one")
    if (kubeconfig or in_cluster) and not node:
        raise ConfigError("--node: required with --kubeconfig/--in-cluster (watch only this node)")
    secret = None
    secret_file = flags.get("container_credentials_secret_file")
    if secret_file is not None:
        secret = tokens.read_secret(Path(secret_file), option="--container-credentials-secret-file")
    settings = IdentitySettings(
        provider=provider,
        base_role_arn=flags.get("base_role_arn"),
        default_role=flags.get("default_role"),
        sts_endpoint=flags.get("sts_endpoint"),
        sts_region=str(flags.get("sts_region") or "us-east-1"),
        session_duration=parse_duration(
            str(flags.get("session_duration") or "1h"), option="--session-duration"
        ),
        session_tags=bool(flags.get("session_tags")),
        session_scope=flags.get("session_scope") or "pod",
        restrict_namespaces=bool(flags.get("namespace_restriction", True)),
        address_wait=parse_duration(
            str(flags.get("address_wait") or "2s"), option="--address-wait"
        ),
        prefetch=bool(flags.get("prefetch", True)),
        verify_interval=parse_duration(
            str(flags.get("verify_interval") or "250ms"), option="--verify-interval"
        ),
        gcp_iam_endpoint=str(flags.get("gcp_iam_endpoint") or ""),
        container_token_secret=secret,
    )
    return Plan(settings, kubeconfig, in_cluster, node, cluster_file)


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
    from podwarden.kube import client, filesource, lookup, reflector, store
    from podwarden.metadata.identity import service
    from podwarden.metadata.identity.events import LightkubeSink

    log = logs.get("metadata.identity")
    view = store.ClusterView()
    api: client.Api | None = None
    sink = None
    if plan.cluster_file is not None:
        source = filesource.run(view, plan.cluster_file)
    else:
        api = (
            client.in_cluster()
            if plan.in_cluster
            else client.from_kubeconfig(plan.kubeconfig or Path())
        )
        source = reflector.run(view, api=api, node_name=plan.node)
        sink = LightkubeSink(api.lightkube(), node=plan.node or "")
    synced = asyncio.create_task(view.synced.wait())
    done, _ = await asyncio.wait(
        {synced, source}, timeout=sync_timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if source in done:  # the source stopped before the first sync: a bad file, say
        synced.cancel()
        source.result()
    if synced not in done:
        synced.cancel()
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
