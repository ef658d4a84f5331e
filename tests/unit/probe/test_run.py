"""The probe's I/O against loopback servers: the emulator, a concealing server, dead ports.

Every check's (host, port) is mapped to 127.0.0.1 by `resolve`, so no request
ever goes to a metadata address from these tests.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from podwarden.api import metadata_addresses
from podwarden.lab.cloud import secrets, server
from podwarden.lab.ports import free_port
from podwarden.probe import checks, report, run
from podwarden.probe.findings import Exposure, Severity

# Which emulator provider answers for each metadata host:port of the catalogue.
EMULATED = {
    (metadata_addresses.IMDS_V4, 80): "all",
    (metadata_addresses.IMDS_V6, 80): "all",
    (metadata_addresses.ECS_V4, 80): "ecs",
    (metadata_addresses.EKS_POD_IDENTITY_V4, 80): "eks-pod-identity",
    (metadata_addresses.EKS_POD_IDENTITY_V6, 80): "eks-pod-identity",
    (metadata_addresses.ALIBABA_V4, 80): "alibaba",
    (metadata_addresses.WIRESERVER_V4, 80): "wireserver",
    (metadata_addresses.WIRESERVER_V4, 32526): "hostgaplugin",
}


@pytest.fixture
async def emulator() -> AsyncIterator[run.Resolve]:
    ports: dict[str, int] = {}
    runners: list[web.AppRunner] = []
    for provider in sorted(set(EMULATED.values())):
        ports[provider] = free_port()
        runners.append(await server.start(provider, "127.0.0.1", ports[provider]))

    def resolve(host: str, port: int) -> tuple[str, int]:
        return "127.0.0.1", ports[EMULATED[(host, port)]]

    yield resolve
    for runner in runners:
        await runner.cleanup()


def everything(**kwargs: str) -> list[checks.Check]:
    return checks.catalogue(**kwargs)


async def test_an_open_node_exposes_every_secret_kind(emulator):
    result = await run.probe_async(everything(), timeout=2.0, resolve=emulator)
    by_id = {f.check: f for f in result.findings}
    assert result.exposed
    assert all(f.reachable for f in result.findings)
    assert by_id["aws-imdsv1-node-credentials"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["aws-imdsv2-node-credentials"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["aws-imds-ipv6-v2-node-credentials"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["aws-imdsv1-user-data"].exposed == (Exposure.USER_DATA,)
    assert by_id["aws-imdsv1-identity-credentials"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["gce-kube-env"].exposed == (Exposure.KUBE_ENV,)
    assert by_id["gce-legacy-kube-env"].exposed == (Exposure.KUBE_ENV,)
    assert by_id["gce-legacy-0.1-kube-env"].exposed == (Exposure.KUBE_ENV,)
    assert by_id["gce-recursive-kube-env"].exposed == (Exposure.KUBE_ENV,)
    for check in ("gce-instance-attributes", "gce-recursive-attributes"):
        assert by_id[check].exposed == (Exposure.ATTRIBUTES,)
        assert by_id[check].detail.startswith("HTTP 200: attributes readable (")
        assert "kube-env" in by_id[check].detail and "cluster-name" not in by_id[check].detail
    assert (
        by_id["gce-project-attributes"].detail == "HTTP 200: attributes readable (enable-oslogin)"
    )
    assert by_id["aws-imds-dated-node-credentials"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["azure-token-mixed-case"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["gce-node-sa-token"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["gce-node-identity"].exposed == (Exposure.IDENTITY_TOKEN,)
    assert by_id["azure-managed-identity-token"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["azure-instance-document"].exposed == (Exposure.USER_DATA,)
    assert by_id["azure-wireserver-hostgaplugin"].exposed == (Exposure.BOOTSTRAP_TOKEN,)
    assert by_id["azure-wireserver"].severity is Severity.MEDIUM
    assert by_id["alibaba-ram-credentials"].exposed == (Exposure.CREDENTIALS,)
    # Without the pod's container variables, ECS/EKS answer but give nothing.
    assert by_id["ecs-task-credentials"].exposed == ()
    assert by_id["eks-pod-identity"].exposed == ()


async def test_container_credentials_are_found_with_the_pods_variables(emulator):
    catalogue = everything(
        ecs_relative_uri="/v2/credentials/emulator-task-0001",
        eks_token="emulator-eks-pod-identity-sa-token",
    )
    result = await run.probe_async(catalogue, timeout=2.0, resolve=emulator)
    by_id = {f.check: f for f in result.findings}
    assert by_id["ecs-task-credentials"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["eks-pod-identity"].exposed == (Exposure.CREDENTIALS,)
    assert by_id["eks-pod-identity-ipv6"].exposed == (Exposure.CREDENTIALS,)


async def test_no_secret_value_appears_in_any_output(emulator):
    catalogue = everything(
        ecs_relative_uri="/v2/credentials/emulator-task-0001",
        eks_token="emulator-eks-pod-identity-sa-token",
    )
    result = await run.probe_async(catalogue, timeout=2.0, resolve=emulator)
    assert result.exposed
    for text in (report.as_table(result), report.as_json(result)):
        leaked = [value for value in secrets.ALL if value in text]
        assert leaked == []


@pytest.fixture
async def concealing() -> AsyncIterator[run.Resolve]:
    """A server refusing everything with the proxy's wording, like podwarden in front."""

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, text="This metadata endpoint is concealed.\n")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield lambda host, p: ("127.0.0.1", port)
    await runner.cleanup()


async def test_a_concealing_server_exposes_nothing_and_its_reason_is_shown(concealing):
    result = await run.probe_async(everything(), timeout=2.0, resolve=concealing)
    assert not result.exposed
    assert all(f.reachable and f.status == 403 for f in result.findings)
    assert all(
        f.detail == "HTTP 403: This metadata endpoint is concealed." for f in result.findings
    )
    assert report.verdict(result).startswith("OK: no credentials")


async def test_closed_ports_are_unreachable_not_exposed():
    port = free_port()  # nothing listens there
    result = await run.probe_async(
        everything(), timeout=1.0, resolve=lambda host, p: ("127.0.0.1", port)
    )
    assert not result.exposed
    assert {f.detail for f in result.findings} == {"connection refused"}
    assert all(f.severity is Severity.NONE and not f.reachable for f in result.findings)


async def test_a_silent_server_is_cut_off_by_the_timeout():
    """A listener that never answers: every check reports a timeout, within the budget."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(128)  # the kernel completes handshakes; nobody ever reads
    port = silent.getsockname()[1]
    try:
        started = time.monotonic()
        result = await run.probe_async(
            everything(), timeout=0.3, resolve=lambda host, p: ("127.0.0.1", port)
        )
        took = time.monotonic() - started
    finally:
        silent.close()
    assert not result.exposed
    assert {f.detail for f in result.findings} == {"timed out"}
    assert took < 0.3 * 2.5 + 0.5


async def test_an_overall_deadline_bounds_chained_checks():
    """With a deadline shorter than one round trip chain, unfinished checks say so."""

    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        started = time.monotonic()
        result = await run.probe_async(
            everything()[:3],
            timeout=10.0,
            deadline=0.5,
            resolve=lambda host, p: ("127.0.0.1", port),
        )
        took = time.monotonic() - started
    finally:
        release.set()
        await runner.cleanup()
    assert took < 1.5
    assert {f.detail for f in result.findings} == {"timed out"}


def test_json_report_shape():
    finding_json = json.loads(report.as_json(run.Report(findings=[], elapsed=0.0123)))
    assert finding_json == {"exposed": False, "elapsed_ms": 12, "findings": []}


def test_catalogue_covers_every_door_the_issue_names():
    hosts = {(c.host, c.port) for c in checks.catalogue()}
    assert set(EMULATED) <= hosts
    ids = [c.id for c in checks.catalogue()]
    assert len(ids) == len(set(ids))
    assert any(c.steps[0].method == "PUT" for c in checks.catalogue() if c.service == "aws")


async def test_through_the_gce_proxy_only_gkes_attributes_are_served():
    """Issue 9, finding 4: the probe reads every listed attribute; the proxy serves GKE's."""
    from podwarden.lab.cloud.state import EmulatorState, GceState
    from podwarden.metadata import proxy
    from podwarden.metadata.model import ProviderName
    from podwarden.metadata.settings import ProxySettings

    gce = GceState()
    gce.attributes["gce-container-declaration"] = "spec: {env: [{name: TOKEN, value: x}]}"
    gce.attributes["windows-startup-script-ps1"] = "Write-Host x"
    runner = await server.start("gce", "127.0.0.1", 0, state=EmulatorState(gce=gce))
    upstream_port = int(runner.addresses[0][1])
    upstream = f"http://127.0.0.1:{upstream_port}"
    running = await proxy.start(ProxySettings(provider=ProviderName.GCE, upstream_url=upstream))
    try:
        resolve: run.Resolve = lambda host, port: ("127.0.0.1", running.port)  # noqa: E731
        gce_checks = [c for c in everything() if c.service == "gce"]
        through = await run.probe_async(gce_checks, timeout=2.0, resolve=resolve)
        by_id = {f.check: f for f in through.findings}
        assert not through.exposed, [f.detail for f in through.findings if f.exposed]
        assert by_id["gce-instance-attributes"].detail == "HTTP 200: nothing secret"
        assert by_id["gce-recursive-attributes"].detail == "HTTP 200: nothing secret"
        # The same node without the proxy: the probe names what it would hand out.
        direct = await run.probe_async(
            gce_checks, timeout=2.0, resolve=lambda host, port: ("127.0.0.1", upstream_port)
        )
        detail = {f.check: f.detail for f in direct.findings}["gce-instance-attributes"]
        assert "gce-container-declaration" in detail and "windows-startup-script-ps1" in detail
    finally:
        await running.stop(drain_timeout=1.0)
        await runner.cleanup()
