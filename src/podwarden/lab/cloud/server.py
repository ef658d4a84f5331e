"""Building and starting emulator apps: one provider each, or `all` on one host.

`all` exists because in the lab one host owns 169.254.169.254:80 for every
cloud, as each cloud's own metadata service does on its own nodes: requests are
dispatched by path prefix (`/computeMetadata`, `/0.1` → GCE; `/metadata` →
Azure; `/latest`, `/<version>` → AWS). `GET /` answers AWS's version list with
GCE's `Metadata-Flavor: Google` header, so both SDKs' probes succeed there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from podwarden.api import metadata_addresses
from podwarden.lab.cloud import aws, azure, extras, gce
from podwarden.lab.cloud.state import EmulatorState


class Handler(Protocol):
    async def handle(self, request: web.Request) -> web.StreamResponse: ...


PROVIDERS = (
    "aws",
    "gce",
    "azure",
    "all",
    "ecs",
    "eks-pod-identity",
    "alibaba",
    "wireserver",
    "hostgaplugin",
)
LAB_ADDRESSES: dict[str, tuple[tuple[str, int], ...]] = {
    "all": ((metadata_addresses.IMDS_V4, 80),),
    "aws": ((metadata_addresses.IMDS_V6, 80),),
    "ecs": ((metadata_addresses.ECS_V4, 80),),
    "eks-pod-identity": ((metadata_addresses.EKS_POD_IDENTITY_V4, 80),),
    "alibaba": ((metadata_addresses.ALIBABA_V4, 80),),
    "wireserver": ((metadata_addresses.WIRESERVER_V4, 80),),
    "hostgaplugin": ((metadata_addresses.WIRESERVER_V4, metadata_addresses.HOSTGAPLUGIN_PORT),),
}
"""Where each provider lives on a real node: the lab's cloud host binds these
(inside its own network namespace, never on the machine itself)."""
HANDLERS: web.AppKey[dict[str, Handler]] = web.AppKey("podwarden_cloud_handlers", dict)
STATE: web.AppKey[EmulatorState] = web.AppKey("podwarden_cloud_state", EmulatorState)


def _handlers(
    provider: str,
    state: EmulatorState,
    *,
    imdsv2_required: bool,
    shared: dict[str, Handler] | None,
) -> dict[str, Handler]:
    clouds: dict[str, Callable[[], Handler]] = {
        "aws": lambda: aws.Imds(state.aws, imdsv2_required=imdsv2_required),
        "gce": lambda: gce.Metadata(state.gce),
        "azure": lambda: azure.Imds(state.azure),
        "ecs": lambda: extras.EcsAgent(state.extras),
        "eks-pod-identity": lambda: extras.EksPodIdentityAgent(state.extras),
        "alibaba": lambda: extras.AlibabaMetadata(state.extras),
        "wireserver": extras.WireServer,
        "hostgaplugin": extras.HostGaPlugin,
    }
    shared = shared if shared is not None else {}
    names = ("aws", "gce", "azure") if provider == "all" else (provider,)
    for name in names:
        if name not in shared:
            shared[name] = clouds[name]()
    return {name: shared[name] for name in names}


def _combined(
    handlers: dict[str, Handler],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    aws_handler, gce_handler, azure_handler = handlers["aws"], handlers["gce"], handlers["azure"]

    async def dispatch(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(("/computeMetadata", "/0.1/")) or path == "/0.1":
            return await gce_handler.handle(request)
        if path.lower().startswith("/metadata"):
            return await azure_handler.handle(request)
        response = await aws_handler.handle(request)
        if path == "/":
            response.headers["Metadata-Flavor"] = "Google"
        return response

    return dispatch


def build_app(
    provider: str,
    *,
    imdsv2_required: bool = False,
    state: EmulatorState | None = None,
    shared: dict[str, Handler] | None = None,
) -> web.Application:
    """An aiohttp app serving `provider` (one of PROVIDERS) from `state`.

    Apps built with the same `shared` dict share provider objects, so an IMDSv2
    token from 169.254.169.254 is also good at fd00:ec2::254, as on EC2.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    state = state if state is not None else EmulatorState()
    handlers = _handlers(provider, state, imdsv2_required=imdsv2_required, shared=shared)
    app = web.Application(handler_args={"max_field_size": 16384})
    app[HANDLERS] = handlers
    app[STATE] = state
    if provider == "all":
        app.router.add_route("*", "/{tail:.*}", _combined(handlers))
    else:
        app.router.add_route("*", "/{tail:.*}", handlers[provider].handle)
    return app


def handler(app: web.Application, provider: str) -> Handler:
    """The provider object behind an app, e.g. `gce.Metadata` to change attributes."""
    return app[HANDLERS][provider]


async def start(
    provider: str,
    host: str,
    port: int,
    *,
    imdsv2_required: bool = False,
    state: EmulatorState | None = None,
) -> web.AppRunner:
    """Serve `provider` on host:port; the caller ends it with `await runner.cleanup()`."""
    app = build_app(provider, imdsv2_required=imdsv2_required, state=state)
    return await serve(app, [(host, port)])


async def serve(app: web.Application, addresses: list[tuple[str, int]]) -> web.AppRunner:
    """Serve one app on several addresses (the lab's metadata IPs, or loopback ports)."""
    # handler_cancellation: a client that disconnects ends its handler, as it ends a held
    # wait_for_change on the real metadata server (aiohttp's default lets it run on).
    runner = web.AppRunner(app, access_log=None, handle_signals=False, handler_cancellation=True)
    await runner.setup()
    try:
        for host, port in addresses:
            await web.TCPSite(runner, host, port, reuse_address=True).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
