"""`podwarden nodeauth serve | can-i | report | verify`.

Exit status everywhere: 2 for unusable flags, files or settings (the message names
them); can-i 0 only for "yes"; report 1 when a finding is at or above --fail-on;
verify 1 when a check shows a hole, 2 when one could not be made.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from podwarden.config import ConfigError
from podwarden.webhooks import authz_settings

# Each subcommand imports what it needs when it runs (`verify` must not pay for aiohttp's
# server and the report's renderers): the CLI's lazy-import rule, one level down.

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
EXIT_USAGE = 2
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _settings(config_file: Path | None, **overrides: object) -> authz_settings.NodeAuthSettings:
    try:
        return authz_settings.load(config_file, **overrides)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable


@click.group("nodeauth")
def nodeauth() -> None:
    """Node authorization: the graph authorizer and NodeRestriction as webhooks, reports."""


def _config_options(command: F) -> F:
    options = [
        click.option("--config", "config_file", type=_FILE, help="Settings file (YAML)."),
        click.option(
            "--mode", type=click.Choice(["no-opinion", "deny"]), help=authz_settings.help_of("mode")
        ),
        click.option("--kubernetes-version", help=authz_settings.help_of("kubernetes_version")),
        click.option(
            "--node-scoped",
            "node_scoped",
            multiple=True,
            metavar="NS/NAME",
            help=authz_settings.help_of("node_scoped_service_accounts"),
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@nodeauth.command("serve")
@click.option("--listen", required=True, help="HOST:PORT to serve HTTPS on, e.g. 0.0.0.0:8443.")
@click.option(
    "--tls-cert", required=True, type=_FILE, help="Serving certificate (PEM); reloaded on change."
)
@click.option("--tls-key", required=True, type=_FILE, help="Its private key (PEM).")
@click.option("--kubeconfig", type=_FILE, help="Follow this cluster (cluster-wide watches).")
@click.option("--in-cluster", is_flag=True, help="Follow the cluster this pod runs in.")
@click.option(
    "--cluster-file", type=_FILE, help="Cluster objects from a YAML or JSON file instead."
)
@click.option(
    "--poll-interval", default=1.0, show_default=True, help="Seconds between file checks."
)
@_config_options
def serve(
    listen: str,
    tls_cert: Path,
    tls_key: Path,
    kubeconfig: Path | None,
    in_cluster: bool,
    cluster_file: Path | None,
    poll_interval: float,
    config_file: Path | None,
    mode: str | None,
    kubernetes_version: str | None,
    node_scoped: tuple[str, ...],
) -> None:
    """Serve POST /authorize (SubjectAccessReview) and POST /admit (NodeRestriction)."""
    from podwarden import logs
    from podwarden.config import host_port
    from podwarden.webhooks import authz_server

    if sum((kubeconfig is not None, in_cluster, cluster_file is not None)) != 1:
        _fail("give exactly one of --kubeconfig, --in-cluster and --cluster-file")
    try:
        host, port = host_port(listen, key="--listen")
    except ConfigError as exc:
        _fail(str(exc))
    settings = _settings(
        config_file, mode=mode, kubernetes_version=kubernetes_version,
        node_scoped_service_accounts=node_scoped,
    )  # fmt: skip
    logs.configure()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        running = await authz_server.start(
            host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, settings=settings,
            kubeconfig=kubeconfig, cluster_file=cluster_file, in_cluster=in_cluster,
            poll_interval=poll_interval,
        )  # fmt: skip
        gc.collect()
        gc.freeze()  # the start-up heap (and a file's graph) out of the collector's walks
        click.echo(f"podwarden nodeauth serving at {running.url}", err=True)
        try:
            await stop.wait()
        finally:
            await running.drain()

    try:
        asyncio.run(main())
    except ConfigError as exc:
        _fail(str(exc))


def _source_options(command: F) -> F:
    command = click.option("--kubeconfig", type=_FILE, help="List this cluster's objects once.")(
        command
    )
    return click.option("--cluster-file", type=_FILE, help="Cluster objects (YAML or JSON).")(
        command
    )


@nodeauth.command("can-i")
@click.option("--node", default="", help="The node whose kubelet credentials (or bound token) ask.")
@click.option(
    "--as-serviceaccount",
    default="",
    metavar="NS/NAME",
    help="Ask as this service account, its token bound to --node.",
)
@click.option("-n", "--namespace", default="", help="The object's namespace.")
@click.option("--field-selector", default="", help="e.g. spec.nodeName=node-a (list and watch).")
@_source_options
@_config_options
@click.argument("verb")
@click.argument("resource")
@click.argument("name", required=False, default="")
def can_i(
    node: str,
    as_serviceaccount: str,
    namespace: str,
    field_selector: str,
    kubeconfig: Path | None,
    cluster_file: Path | None,
    config_file: Path | None,
    mode: str | None,
    kubernetes_version: str | None,
    node_scoped: tuple[str, ...],
    verb: str,
    resource: str,
    name: str,
) -> None:
    """Would podwarden let the node (or a node-bound service account) VERB RESOURCE [NAME]?

    RESOURCE is PLURAL[.GROUP][/SUBRESOURCE], e.g. secrets, leases.coordination.k8s.io,
    serviceaccounts/token. Prints yes, no or no opinion with the reason; exit 0 only for yes.
    """
    from podwarden.rbac import RbacError
    from podwarden.webhooks import nodeauth_tools

    if not node and not as_serviceaccount:
        _fail("give --node (and --as-serviceaccount NS/NAME to ask as a node-bound account)")
    settings = _settings(
        config_file, mode=mode, kubernetes_version=kubernetes_version,
        node_scoped_service_accounts=node_scoped,
    )  # fmt: skip
    try:
        view = nodeauth_tools.load_view(cluster_file=cluster_file, kubeconfig=kubeconfig)
        question = nodeauth_tools.Question(verb, resource, name, namespace, field_selector)
        attrs = question.attributes(node=node, service_account=as_serviceaccount)
    except (ConfigError, RbacError) as exc:
        _fail(str(exc))
    decision = nodeauth_tools.can_i(view, settings, attrs)
    click.echo(nodeauth_tools.answer_text(decision))
    sys.exit(0 if decision.allowed else 1)


@nodeauth.command("report")
@_source_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "html"]),
    default="table",
    show_default=True,
)
@click.option("--node", default="", help="Only this node (with what it reaches, by name).")
@click.option(
    "--fail-on",
    type=click.Choice(["high", "critical"]),
    default="critical",
    show_default=True,
    help="Exit 1 when a finding is this severe or worse.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of stdout.",
)
def report_command(
    kubeconfig: Path | None,
    cluster_file: Path | None,
    output_format: str,
    node: str,
    fail_on: str,
    output: Path | None,
) -> None:
    """Blast radius: what each node's credentials can read, and the worst findings first."""
    from podwarden.nodeauth import findings, html, report
    from podwarden.rbac import RbacError
    from podwarden.webhooks import nodeauth_tools

    if (kubeconfig is None) == (cluster_file is None):
        _fail("give exactly one of --kubeconfig and --cluster-file")
    try:
        view = nodeauth_tools.load_view(cluster_file=cluster_file, kubeconfig=kubeconfig)
        built = report.build(view.state, view.rbac(), node=node)
    except (ConfigError, RbacError, report.UnknownNode) as exc:
        _fail(str(exc))
    renderers = {"table": report.to_table, "json": report.to_json, "html": html.render}
    text = renderers[output_format](built)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
    sys.exit(1 if findings.at_or_above(built.findings, fail_on) else 0)


@nodeauth.command("verify")
@click.option(
    "--kubeconfig", required=True, type=_FILE, help="The cluster to ask (your own rights)."
)
@click.option("--node", required=True, help="The node to check.")
@click.option("--other-node", default="", help="Also try relabelling this node as --node.")
def verify_command(kubeconfig: Path, node: str, other_node: str) -> None:
    """Ask the live API server whether system:node:NODE is kept to its own pods' data."""
    from podwarden.kube import client
    from podwarden.webhooks import verify

    async def main() -> list[verify.Check]:
        api = client.from_kubeconfig(kubeconfig)
        try:
            return await verify.run(api, node, other_node=other_node)
        finally:
            await api.close()

    try:
        checks = asyncio.run(main())
    except ConfigError as exc:
        _fail(str(exc))
    width = max(len(c.name) for c in checks)
    for check in checks:
        click.echo(f"{check.verdict.upper():<13} {check.name:<{width}}  {check.detail}")
    sys.exit(verify.exit_code(checks))
