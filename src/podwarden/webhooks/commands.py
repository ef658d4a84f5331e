"""`podwarden webhook --listen HOST:PORT …` and `podwarden webhook certs …`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from pathlib import Path

import click

from podwarden import config, flags, logs
from podwarden.webhooks import certs, server, settings

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


async def _serve(**options: object) -> None:
    """Serve until SIGINT/SIGTERM.

    One process: the webhook scales by replicas of its Deployment, as Kubernetes
    intends (there is no `--workers`; see README, "Why one process").
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    running = await server.start(**options)  # type: ignore[arg-type]
    _freeze_startup_objects()
    click.echo(f"podwarden webhook serving at {running.url}", err=True)
    try:
        await stop.wait()
    finally:
        await running.stop()


def _freeze_startup_objects() -> None:
    """Move everything loaded at start-up (checks, policies, pydantic models: ~70k objects)
    out of the collector's reach.

    A full (generation 2) collection walks every tracked object; with the start-up heap in
    it, one took 10 to 90 ms, stalling every request in flight: the webhook's p99. Frozen
    objects are never collected (they live as long as the process anyway), so later full
    collections walk only what requests allocated.
    """
    gc.collect()
    gc.freeze()


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # optional: plain asyncio works, just slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


@click.group("webhook", cls=flags.SettingsGroup, invoke_without_command=True)
@click.option("--listen", help="HOST:PORT to serve HTTPS on, e.g. 0.0.0.0:8443.")
@click.option("--tls-cert", type=_FILE, help="Serving certificate (PEM); reloaded on change.")
@click.option("--tls-key", type=_FILE, help="Its private key (PEM).")
@click.option(
    "--kubeconfig", type=_FILE, help="Follow this cluster; PSP use via SubjectAccessReview."
)
@click.option(
    "--in-cluster", is_flag=True, help="Follow the cluster this pod runs in (its service account)."
)
@click.option(
    "--cluster-file", type=_FILE, help="Namespaces and RBAC objects from a YAML file instead."
)
@click.option("--config", "config_file", type=_FILE, help="Webhook configuration (YAML).")
@click.option(
    "--poll-interval", default=1.0, show_default=True, help="Seconds between file checks."
)
@click.pass_context
def webhook(
    ctx: click.Context,
    listen: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    kubeconfig: Path | None,
    in_cluster: bool,
    cluster_file: Path | None,
    config_file: Path | None,
    poll_interval: float,
) -> None:
    """Pod security admission webhook (PSP-compatible policies and Pod Security Standards)."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        flag
        for flag, value in (("--listen", listen), ("--tls-cert", tls_cert), ("--tls-key", tls_key))
        if value is None
    ]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)}")
    if sum((kubeconfig is not None, in_cluster, cluster_file is not None)) != 1:
        raise click.UsageError("give exactly one of --kubeconfig, --in-cluster and --cluster-file")
    assert listen is not None
    host, port = config.host_port(listen, key="listen")
    logs.configure()
    _install_uvloop()
    parsed = settings.load(config_file)
    asyncio.run(
        _serve(
            host=host,
            port=port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            settings=parsed,
            kubeconfig=kubeconfig,
            cluster_file=cluster_file,
            in_cluster=in_cluster,
            poll_interval=poll_interval,
        )
    )


@webhook.command("certs")
@click.option("--service", required=True, help="The webhook's Service name.")
@click.option("--namespace", required=True, help="The Service's namespace.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory."
)
@click.option("--dns", "extra_dns", multiple=True, help="Extra DNS name for the certificate.")
@click.option("--ip", "ip_addresses", multiple=True, help="Extra IP address for the certificate.")
@click.option("--days", default=365, show_default=True, help="Validity in days.")
def certs_command(
    service: str,
    namespace: str,
    out: Path,
    extra_dns: tuple[str, ...],
    ip_addresses: tuple[str, ...],
    days: int,
) -> None:
    """Write a CA, the serving certificate and key, and the caBundle value; print caBundle."""
    try:
        written = certs.issue(
            service=service,
            namespace=namespace,
            out=out,
            extra_dns=extra_dns,
            ip_addresses=ip_addresses,
            days=days,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(
        f"wrote {certs.CA_CERT}, {certs.CA_KEY}, {certs.TLS_CERT}, {certs.TLS_KEY}, "
        f"{certs.CA_BUNDLE} in {written.directory} for {', '.join(written.dns_names)}",
        err=True,
    )
    click.echo(written.ca_bundle)
