"""`kubectl podwarden …`: the kubectl plugin (console script `kubectl-podwarden`).

kubectl finds `kubectl-podwarden` on PATH and runs it with every argument typed
after `podwarden`, unchanged, and the user's environment; it resolves none of
its own global flags for the plugin (and stops looking for a plugin at the
first flag, so they come after `podwarden`). This entry point therefore
honours kubectl's flags itself, in kubectl's way (`kube.kubectlconfig`):
`--kubeconfig`, `$KUBECONFIG` (several files merged), `~/.kube/config`;
`--context`; `-n/--namespace`, else the context's namespace. They are accepted
before or after the subcommand (`kubectl podwarden -n x why web` and
`kubectl podwarden why web -n x`).

Subcommands: `why POD`, `audit` (the cluster audit), and `nodeauth report`,
which hands over to `podwarden nodeauth report` (the node blast radius).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from podwarden import __version__, cli
from podwarden.audit import agentconfig, cluster_commands, scan, why
from podwarden.config import ConfigError
from podwarden.kube import client, kubectlconfig, snapshot

PROG = "kubectl podwarden"
EXIT_NOT_FOUND = 1
F = TypeVar("F", bound=Callable[..., Any])


def kube_flags(func: F) -> F:
    """kubectl's global flags, on the group and on every subcommand."""
    for option in reversed(
        [
            click.option("--kubeconfig", default=None, help="Path to the kubeconfig file."),
            click.option("--context", default=None, help="The kubeconfig context to use."),
            click.option("-n", "--namespace", default=None, help="The namespace (for `why`)."),
        ]
    ):
        func = option(func)
    return func


def _flags(ctx: click.Context, **given: str | None) -> dict[str, str | None]:
    """The subcommand's flags, falling back to the ones given before it."""
    group: dict[str, str | None] = ctx.obj or {}
    return {key: value if value is not None else group.get(key) for key, value in given.items()}


def _connect(flags: dict[str, str | None]) -> kubectlconfig.Connection:
    try:
        return kubectlconfig.connect(
            kubeconfig=flags["kubeconfig"], context=flags["context"], namespace=flags["namespace"]
        )
    except ConfigError as exc:
        cluster_commands.fail(PROG, str(exc))
        raise  # unreachable: fail() exits


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@kube_flags
@click.version_option(__version__, prog_name=PROG)
@click.pass_context
def main(
    ctx: click.Context, kubeconfig: str | None, context: str | None, namespace: str | None
) -> None:
    """podwarden from kubectl: why a pod runs as it does, and a cluster audit."""
    ctx.obj = {"kubeconfig": kubeconfig, "context": context, "namespace": namespace}


async def _read_for_why(
    api: client.Api, namespace: str, name: str, settings: scan.Settings
) -> snapshot.Snapshot:
    try:
        return await snapshot.read(
            api,
            [*why.PSP_COLLECTIONS, *snapshot.RBAC],
            objects=[
                ("Pod", f"/api/v1/namespaces/{namespace}/pods/{name}"),
                ("Namespace", f"/api/v1/namespaces/{namespace}"),
                (scan.AGENT_CONFIG_KIND, settings.configmap_path()),
            ],
        )
    finally:
        await api.close()


@main.command("why")
@click.argument("pod")
@kube_flags
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option("--agent-namespace", default=scan.Settings.agent_namespace, show_default=True)
@click.option("--agent-configmap", default=scan.Settings.agent_configmap, show_default=True)
@click.option("--base-role-arn", default=None, help="Completes role names without arn:.")
@click.pass_context
def why_command(
    ctx: click.Context,
    pod: str,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    output: str,
    agent_namespace: str,
    agent_configmap: str,
    base_role_arn: str | None,
) -> None:
    """Why POD runs as it does: PSP and its patch, PSS level, role and its permission."""
    name = pod.removeprefix("pod/").removeprefix("pods/")
    conn = _connect(_flags(ctx, kubeconfig=kubeconfig, context=context, namespace=namespace))
    settings = scan.Settings(agent_namespace=agent_namespace, agent_configmap=agent_configmap)
    try:
        snap = asyncio.run(_read_for_why(conn.api, conn.namespace, name, settings))
    except client.ApiUnavailable as exc:
        cluster_commands.fail(PROG, f"cannot reach the API server: {exc}")
    except (client.ApiStatusError, ConfigError) as exc:
        cluster_commands.fail(PROG, str(exc))
    pods = snap.of("Pod")
    if not pods:
        reason = next((v for k, v in snap.unreadable.items() if k.startswith("Pod ")), "")
        click.echo(
            f'Error from server: pod "{name}" in namespace "{conn.namespace}": {reason}', err=True
        )
        sys.exit(EXIT_NOT_FOUND)
    configmaps = snap.of(scan.AGENT_CONFIG_KIND)
    coverage = agentconfig.from_configmap(
        configmaps[0] if configmaps else None,
        key=settings.agent_config_key,
        where=f"ConfigMap {agent_namespace}/{agent_configmap}"
        + ("" if configmaps else " not found"),
    )
    answer = why.explain(pods[0], snap, coverage=coverage, base_role_arn=base_role_arn)
    if output == "json":
        click.echo(json.dumps(answer.as_json(), indent=2))
    else:
        click.echo("\n".join(answer.lines()))


@main.command("audit")
@kube_flags
@cluster_commands.audit_options
@click.pass_context
def audit_command(
    ctx: click.Context,
    /,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    **options: Any,
) -> None:
    """The cluster audit (`podwarden audit`) of kubectl's cluster; -n limits it to one namespace."""
    flags = _flags(ctx, kubeconfig=kubeconfig, context=context, namespace=namespace)

    def read(settings: scan.Settings) -> snapshot.Snapshot:
        conn = _connect(flags)
        return asyncio.run(cluster_commands.read_api(conn.api, settings))

    cluster_commands.execute(PROG + " audit", read, options, only_namespace=flags["namespace"])


@main.group("nodeauth")
def nodeauth() -> None:
    """Node authorization (`podwarden nodeauth`)."""


@nodeauth.command(
    "report", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def nodeauth_report(ctx: click.Context, args: tuple[str, ...]) -> None:
    """The node blast-radius report: runs `podwarden nodeauth report ARGS…`."""
    group: dict[str, str | None] = ctx.find_root().obj or {}
    before = [f"--{key}={value}" for key, value in group.items() if value and key != "namespace"]
    cli.main.main(args=["nodeauth", "report", *before, *args], prog_name="podwarden")


if __name__ == "__main__":
    main()
