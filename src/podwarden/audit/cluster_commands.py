"""`podwarden audit`: scan a whole cluster (an API server or a cluster file) and report.

Exit status: 0 when no finding reaches `--fail-on` (default `high`), 1 when one
does, 2 when the cluster cannot be read (the message says where and why).
`kubectl podwarden audit` is the same command with kubectl's way of finding the
cluster (`kubectl_plugin`), so the options live here once (`audit_options`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from podwarden.audit import audithtml, clusterreport, scan
from podwarden.audit.findings import FAIL_ON_CHOICES, fail_threshold
from podwarden.config import ConfigError
from podwarden.kube import client, snapshot

EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2
RENDERERS: dict[str, Callable[[Any], str]] = {
    "table": clusterreport.as_table,
    "json": clusterreport.as_json,
    "html": audithtml.render,
}
F = TypeVar("F", bound=Callable[..., Any])


def audit_options(func: F) -> F:
    """The report and agent options both `audit` commands take."""
    options = [
        click.option(
            "--format",
            "output_format",
            type=click.Choice(list(RENDERERS)),
            default="table",
            show_default=True,
        ),
        click.option(
            "--fail-on",
            type=click.Choice(FAIL_ON_CHOICES),
            default="high",
            show_default=True,
            help="Exit 1 when a finding has this severity or a higher one.",
        ),
        click.option(
            "--output",
            "output",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write the report to this file instead of stdout.",
        ),
        click.option(
            "--agent-namespace",
            default=scan.Settings.agent_namespace,
            show_default=True,
            help="Namespace of the agent DaemonSet's pods.",
        ),
        click.option(
            "--agent-selector",
            default=scan.Settings.agent_selector,
            show_default=True,
            help="Label selector of the agent's pods.",
        ),
        click.option(
            "--agent-configmap",
            default=scan.Settings.agent_configmap,
            show_default=True,
            help="ConfigMap (in --agent-namespace) holding the agent's settings.",
        ),
        click.option(
            "--agent-config-key",
            default=scan.Settings.agent_config_key,
            show_default=True,
            help="Key of that ConfigMap with the agent's YAML.",
        ),
        click.option(
            "--base-role-arn",
            default=None,
            help="Completes role names without arn: (as the proxy's flag).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings_from(options: dict[str, Any], *, only_namespace: str | None = None) -> scan.Settings:
    return scan.Settings(
        agent_namespace=options["agent_namespace"],
        agent_selector=options["agent_selector"],
        agent_configmap=options["agent_configmap"],
        agent_config_key=options["agent_config_key"],
        base_role_arn=options["base_role_arn"],
        only_namespace=only_namespace,
    )


async def read_api(api: client.Api, settings: scan.Settings) -> snapshot.Snapshot:
    """The audit's snapshot of a live cluster; closes `api`."""
    try:
        return await snapshot.read(
            api, scan.collections(), objects=[(scan.AGENT_CONFIG_KIND, settings.configmap_path())]
        )
    finally:
        await api.close()


def fail(prog: str, message: str) -> None:
    click.echo(f"{prog}: {message}", err=True)
    sys.exit(EXIT_UNREADABLE)


def execute(
    prog: str,
    read: Callable[[scan.Settings], snapshot.Snapshot],
    options: dict[str, Any],
    *,
    only_namespace: str | None = None,
) -> None:
    """Read, scan, render, write, exit with the status `--fail-on` asks for."""
    settings = settings_from(options, only_namespace=only_namespace)
    try:
        settings.selector()
        snap = read(settings)
        report = scan.run(snap, settings)
    except (ConfigError, ValueError) as exc:
        fail(prog, str(exc))
    except client.ApiUnavailable as exc:
        fail(prog, f"cannot reach the API server: {exc}")
    except client.ApiStatusError as exc:
        fail(prog, f"the API server refused: {exc}")
    text = RENDERERS[options["output_format"]](report)
    output: Path | None = options["output"]
    if output is not None:
        try:
            output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as exc:
            fail(prog, f"{output}: cannot write: {exc.strerror or exc}")
        click.echo(
            f"{prog}: report written to {output} ({len(report.findings)} findings)", err=True
        )
    else:
        click.echo(text)
    if report.fails(fail_threshold(options["fail_on"])):
        sys.exit(EXIT_FINDINGS)


def _source_reader(
    kubeconfig: Path | None, context: str | None, in_cluster: bool, cluster_file: Path | None
) -> Callable[[scan.Settings], snapshot.Snapshot]:
    if cluster_file is not None:
        return lambda _settings: snapshot.from_file(cluster_file, scan.file_kinds())

    def from_api(settings: scan.Settings) -> snapshot.Snapshot:
        api = (
            client.in_cluster()
            if in_cluster
            else client.from_kubeconfig(kubeconfig or "", context=context)
        )
        return asyncio.run(read_api(api, settings))

    return from_api


@click.command("audit")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the cluster through this kubeconfig.",
)
@click.option("--context", default=None, help="The kubeconfig context (default: current).")
@click.option("--in-cluster", is_flag=True, help="Read the cluster as this pod's service account.")
@click.option(
    "--cluster-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read Namespaces, Pods, Nodes and the agent's ConfigMap from a YAML/JSON "
    "file (e.g. `kubectl get ns,pods,nodes,cm -A -o yaml`).",
)
@click.option(
    "--namespace",
    "-n",
    "only_namespace",
    default=None,
    help="Judge the pods of this namespace only (nodes are always all checked).",
)
@audit_options
def audit_command(
    kubeconfig: Path | None,
    context: str | None,
    in_cluster: bool,
    cluster_file: Path | None,
    only_namespace: str | None,
    **options: Any,
) -> None:
    """Scan a cluster: Pod Security labels and what restricted/baseline would refuse, pods
    that can bypass the metadata firewall, unpermitted role annotations, nodes without the
    agent."""
    given = sum((kubeconfig is not None, in_cluster, cluster_file is not None))
    if given != 1:
        raise click.UsageError("give exactly one of --kubeconfig, --in-cluster, --cluster-file")
    if context is not None and kubeconfig is None:
        raise click.UsageError("--context goes with --kubeconfig")
    read = _source_reader(kubeconfig, context, in_cluster, cluster_file)
    execute("podwarden audit", read, options, only_namespace=only_namespace)
