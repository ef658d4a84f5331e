"""`podwarden lab up|down|status|exec|kubectl|cloud` and `podwarden demo`.

The lab is root-only (network namespaces); every subcommand says so plainly
instead of failing half-way. `--prefix` and `--state-dir` (or the variables
PODWARDEN_LAB_PREFIX / PODWARDEN_LAB_DIR) let a test run its own lab beside
a user's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from podwarden.api import metadata_addresses
from podwarden.lab import cluster, moto, netns, state, topology
from podwarden.lab import interception as lab_interception
from podwarden.lab import plan as lab_plan
from podwarden.lab.apiserver import commands as apiserver_command
from podwarden.lab.cloud import commands as cloud_command
from podwarden.lab.iamcredentials import commands as iamcredentials_command

F = TypeVar("F", bound=Callable[..., Any])


def _where(func: F) -> F:
    """The options that locate a lab: its namespace prefix and its state directory."""
    func = click.option(
        "--state-dir",
        envvar="PODWARDEN_LAB_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=state.STATE_DIR,
        show_default=True,
        help="Where the lab's state file and process logs live.",
    )(func)
    func = click.option(
        "--prefix",
        envvar="PODWARDEN_LAB_PREFIX",
        default=lab_plan.DEFAULT_PREFIX,
        show_default=True,
        help="Prefix of the lab's network namespace names.",
    )(func)
    return func


def _interception(func: F) -> F:
    """How pod metadata traffic reaches the proxy (see podwarden.lab.interception)."""
    return click.option(
        "--interception",
        type=click.Choice(lab_interception.MODES),
        default=lab_interception.DEFAULT_MODE,
        show_default=True,
        help="agent: `podwarden agent` (proxy + rules + reconcile); lab-dnat: a proxy behind "
        "the lab's plain DNAT; podwarden-rules: a proxy behind `podwarden rules apply`.",
    )(func)


def _need_root() -> None:
    if not netns.available():
        raise click.ClickException("the lab needs root and iproute2 (network namespaces)")


@click.group()
def lab() -> None:
    """A whole cloud node on one machine: pods as namespaces, an emulated cloud."""


lab.add_command(cloud_command.cloud)
lab.add_command(apiserver_command.apiserver)
lab.add_command(iamcredentials_command.iamcredentials)


@lab.command()
@click.option(
    "--provider",
    type=click.Choice(lab_plan.PROVIDERS),
    default="aws",
    show_default=True,
    help="The proxy's provider (the emulator serves every cloud).",
)
@click.option("--pods", type=click.IntRange(1, lab_plan.MAX_PODS), default=2, show_default=True)
@click.option("--no-proxy", is_flag=True, help="Without podwarden: pods reach the cloud directly.")
@click.option(
    "--sts",
    type=click.Choice(topology.STS_CHOICES),
    default="none",
    show_default=True,
    help="moto: run moto (IAM, STS, S3) on the cloud host so annotated pods really get "
    "their AWS role; none: roles resolve but cannot be assumed (IMDS error).",
)
@_interception
@_where
def up(
    provider: str,
    pods: int,
    no_proxy: bool,
    sts: str,
    interception: str,
    prefix: str,
    state_dir: Path,
) -> None:
    """Build the namespaces; start emulator, API server and (unless --no-proxy) the agent."""
    _need_root()
    try:
        the_lab = topology.up(
            provider=provider,
            pods=pods,
            proxy=not no_proxy,
            prefix=prefix,
            state_dir=state_dir,
            interception_mode=interception,
            sts=sts,
        )
    except (topology.LabError, lab_plan.PlanError, state.StateError) as exc:
        raise click.ClickException(str(exc)) from exc
    plan = the_lab.plan
    service = "off" if no_proxy else f"on ({interception})"
    click.echo(f"lab up: provider {provider}, podwarden {service}")
    for pod in plan.pods:
        click.echo(
            f"  {pod.name}: {pod.ipv4} {pod.ipv6} (netns {plan.pod_netns(pod.name)},"
            f" Pod {cluster.NAMESPACE}/{pod.name} on {cluster.NODE_NAME})"
        )
    click.echo(f"  kubeconfig: {the_lab.kubeconfig} (API server {cluster.APISERVER_URL})")
    if sts == "moto":
        roles = ", ".join(moto.ROLES)
        click.echo(f"  moto: {moto.URL} (roles {roles}; bucket {moto.BUCKET})")
    click.echo(
        f"  try: podwarden lab exec {plan.pods[0].name} -- curl -s "
        f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/"
    )
    click.echo("       podwarden lab kubectl -- get pods -A -o wide")


@lab.command()
@_where
def down(prefix: str, state_dir: Path) -> None:
    """Stop the lab's processes and delete its namespaces (safe to repeat)."""
    _need_root()
    failures = topology.down(state_dir=state_dir, prefix=prefix)
    if failures:
        raise click.ClickException("clean-up incomplete: " + "; ".join(failures))
    click.echo("lab down")


@lab.command()
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@_where
def status(fmt: str, prefix: str, state_dir: Path) -> None:
    """Show the recorded lab and whether its namespaces and processes are alive."""
    try:
        report = topology.status(state_dir=state_dir)
    except state.StateError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    if not report.get("up") and "prefix" not in report:
        click.echo("no lab is up")
        return
    click.echo(
        f"lab {'up' if report['up'] else 'NOT READY'}: provider {report['provider']}, "
        f"proxy {'on via ' + report['interception'] if report['proxy'] else 'off'}"
    )
    if report.get("kubeconfig"):
        click.echo(f"  kubeconfig {report['kubeconfig']}  (podwarden lab kubectl -- get pods -A)")
    if report.get("sts") == "moto":
        click.echo(f"  sts     moto at {moto.URL}")
    for name, alive in report["namespaces_alive"].items():
        click.echo(f"  netns   {name:<24} {'alive' if alive else 'MISSING'}")
    for proc in report["processes"]:
        alive = report["processes_alive"][proc["name"]]
        click.echo(
            f"  process {proc['name']:<10} pid {proc['pid']:<8} "
            f"{'running' if alive else 'DEAD'}  log {proc['log']}"
        )


@lab.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("pod")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@_where
def exec_(pod: str, command: tuple[str, ...], prefix: str, state_dir: Path) -> None:
    """Run COMMAND in POD's network namespace; exits with COMMAND's code.

    Example: podwarden lab exec pod-a -- curl -s http://169.254.169.254/
    """
    _need_root()
    try:
        the_lab = topology.load(state_dir=state_dir)
        ns = the_lab.plan.pod_netns(pod)
    except (topology.LabError, lab_plan.PlanError, state.StateError) as exc:
        raise click.ClickException(str(exc)) from exc
    argv = netns.pid_netns_argv(ns, command)
    try:
        os.execvp(argv[0], argv)  # the environment passes through unchanged
    except OSError as exc:
        raise click.ClickException(f"cannot run {argv[0]}: {exc}") from exc


@lab.command(name="kubectl", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@_where
def kubectl(args: tuple[str, ...], prefix: str, state_dir: Path) -> None:
    """Run kubectl against the lab API server (in the node namespace, the lab's kubeconfig).

    Example: podwarden lab kubectl -- annotate pod pod-a iam.amazonaws.com/role=reader
    """
    _need_root()
    try:
        argv = topology.load(state_dir=state_dir).kubectl_argv(args)
    except (topology.LabError, state.StateError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        raise click.ClickException(f"cannot run {argv[0]}: {exc}") from exc


@click.command()
@click.option("--pods", type=click.IntRange(1, lab_plan.MAX_PODS), default=2, show_default=True)
@_interception
@_where
def demo(pods: int, interception: str, prefix: str, state_dir: Path) -> None:
    """Show, from a pod, what a pod can read without podwarden and with it."""
    from podwarden.lab import demo as lab_demo

    _need_root()
    ok = lab_demo.run(
        pods=pods,
        prefix=prefix,
        state_dir=state_dir,
        interception=interception,
        echo=click.echo,
    )
    if not ok:
        raise SystemExit(1)
