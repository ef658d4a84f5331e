"""Consistent-read verification before credentials: the decision table, single-flight, throttle.

The view is a real `ClusterView`; the API is a `Truth` (what a consistent
read would return now), because the table is about the decision, not HTTP
(`tests/integration/kube/test_lookup.py` covers the read against the lab API
server, `tests/integration/identity/test_churn_lag.py` the whole path).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from podwarden.api import keys
from podwarden.kube import store
from podwarden.kube.client import ApiStatusError, ApiUnavailable
from podwarden.kube.objects import Pod
from podwarden.metadata.identity.verify import BURST, Verifier
from tests.support.pods import namespace, pod

IP = "10.0.0.7"
ROLE = "arn:aws:iam::123456789012:role/reader"


class Truth:
    """What the API server holds now; counts reads, can fail or hold a read back."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.pods = [Pod(o) for o in objects]
        self.reads = 0
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, ip: str) -> list[Pod]:
        self.reads += 1
        snapshot = [p for p in self.pods if ip in p.ips]  # the read's linearisation point
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return snapshot


async def setup(
    view_objects: list[dict[str, Any]], truth: Truth, **kw: Any
) -> tuple[store.ClusterView, Verifier]:
    view = store.ClusterView()
    for obj in view_objects:
        await view.apply(obj)
    options: dict[str, Any] = {"wait": 0.2, "interval": 0.0, **kw}
    return view, Verifier(view, lookup=truth, **options)


def resolved(view: store.ClusterView) -> Pod:
    found = view.pod_by_ip(IP).pod
    assert found is not None
    return found


def exported(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "podwarden_identity_verifications_total", {"outcome": outcome}
    )
    return value or 0.0


async def test_the_api_shows_the_same_pod_so_it_is_served() -> None:
    old = pod("a", IP, uid="u-a")
    view, verifier = await setup([old], Truth(old))
    before = exported("verified")
    assert await verifier.check(IP, resolved(view)) is resolved(view)
    assert verifier.outcomes == {"verified": 1, "mismatch": 0, "api_error": 0}
    assert exported("verified") == before + 1  # and Prometheus counts it


@pytest.mark.parametrize(
    "api_side",
    [
        pytest.param([], id="none: the pod is gone from the API"),
        pytest.param([pod("b", IP, uid="u-b"), pod("c", IP, uid="u-c")], id="ambiguous"),
        pytest.param([pod("a", IP, uid="u-a", deleting=True)], id="terminating"),
        pytest.param([pod("a", IP, uid="u-a", phase="Succeeded")], id="terminal"),
        pytest.param([pod("a", IP, uid="u-a", host_network=True)], id="hostNetwork"),
    ],
)
async def test_anything_but_exactly_one_live_pod_is_refused(api_side: list[Any]) -> None:
    view, verifier = await setup([pod("a", IP, uid="u-a")], Truth(*api_side))
    assert await verifier.check(IP, resolved(view)) is None
    assert verifier.outcomes["mismatch"] == 1


async def test_another_pod_on_the_api_is_served_once_the_view_catches_up() -> None:
    old, new = pod("old", IP, uid="u-old"), pod("new", IP, uid="u-new")
    view, verifier = await setup([old], Truth(new), wait=2.0)
    before = resolved(view)

    async def late_watch() -> None:
        await asyncio.sleep(0.05)
        await view.delete(old)
        await view.apply(new)

    task = asyncio.create_task(late_watch())
    served = await verifier.check(IP, before)
    await task
    assert served is not None and served.uid == "u-new"
    assert verifier.outcomes["mismatch"] == 1


async def test_another_pod_on_the_api_is_refused_when_the_view_stays_behind() -> None:
    view, verifier = await setup([pod("old", IP, uid="u-old")], Truth(pod("new", IP, uid="u-new")))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await verifier.check(IP, resolved(view)) is None
    assert 0.15 <= loop.time() - started < 1.0  # waited the bounded time, then refused


@pytest.mark.parametrize(
    "error",
    [ApiUnavailable("connection refused"), ApiStatusError(403, "Forbidden", "no"), KeyError("x")],
    ids=["unreachable", "error status", "malformed answer"],
)
async def test_an_api_error_refuses(error: Exception) -> None:
    truth = Truth(pod("a", IP, uid="u-a"))
    truth.error = error
    view, verifier = await setup([pod("a", IP, uid="u-a")], truth)
    assert await verifier.check(IP, resolved(view)) is None
    assert verifier.outcomes == {"verified": 0, "mismatch": 0, "api_error": 1}
    assert exported("api_error") >= 1


async def test_a_slow_api_counts_as_an_error_and_refuses() -> None:
    truth = Truth(pod("a", IP, uid="u-a"))
    truth.gate = asyncio.Event()  # never released
    view, verifier = await setup([pod("a", IP, uid="u-a")], truth, timeout=0.1)
    assert await verifier.check(IP, resolved(view)) is None
    assert verifier.outcomes["api_error"] == 1


async def test_concurrent_requests_share_one_read() -> None:
    truth = Truth(pod("a", IP, uid="u-a"))
    view, verifier = await setup([pod("a", IP, uid="u-a")], truth)
    results = await asyncio.gather(*(verifier.check(IP, resolved(view)) for _ in range(50)))
    assert all(r is not None and r.uid == "u-a" for r in results)
    assert truth.reads == 1


async def test_a_request_never_uses_a_read_that_started_before_it_arrived() -> None:
    """The soundness rule: a read that began earlier may predate the address changing hands."""
    old, new = pod("old", IP, uid="u-old"), pod("new", IP, uid="u-new")
    truth = Truth(old)
    truth.gate = asyncio.Event()
    view, verifier = await setup([old], truth, wait=0.1)
    first = asyncio.create_task(verifier.check(IP, resolved(view)))
    await asyncio.sleep(0.02)  # the first read has taken its snapshot: "old"
    truth.pods = [Pod(new)]  # the address changes hands; our view does not know yet
    second = asyncio.create_task(verifier.check(IP, resolved(view)))
    await asyncio.sleep(0.02)
    truth.gate.set()
    assert (await first) is not None  # it arrived before the change: "old" is right for it
    assert (await second) is None  # it needed a read of its own, which saw "new"
    assert truth.reads == 2


async def test_after_a_burst_reads_of_one_address_are_spaced_by_the_interval() -> None:
    truth = Truth(pod("a", IP, uid="u-a"))
    view, verifier = await setup([pod("a", IP, uid="u-a")], truth, interval=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(int(BURST)):  # an SDK's listing + credentials never wait
        assert await verifier.check(IP, resolved(view)) is not None
    assert loop.time() - started < 0.1
    for _ in range(2):
        assert await verifier.check(IP, resolved(view)) is not None
    assert truth.reads == BURST + 2
    assert loop.time() - started >= 0.38  # the two past the burst waited an interval each


async def test_a_view_change_on_the_address_lifts_the_throttle() -> None:
    """The read budget is the only state kept per address; a view change resets it."""
    a = pod("a", IP, uid="u-a")
    truth = Truth(a)
    view, verifier = await setup([a], truth, interval=5.0)
    for _ in range(int(BURST)):
        assert await verifier.check(IP, resolved(view)) is not None
    pending = asyncio.create_task(verifier.check(IP, resolved(view)))
    await asyncio.sleep(0.05)
    assert not pending.done()  # held back by the interval
    changed = pod("a", IP, uid="u-a", annotations={"x": "y"})
    await view.apply(changed)  # a Change touching the address
    truth.pods = [Pod(changed)]
    assert (await asyncio.wait_for(pending, 1.0)) is not None
    assert truth.reads == BURST + 1


async def test_a_view_change_elsewhere_does_not_lift_the_throttle() -> None:
    a = pod("a", IP, uid="u-a")
    truth = Truth(a)
    view, verifier = await setup([a], truth, interval=5.0)
    for _ in range(int(BURST)):
        assert await verifier.check(IP, resolved(view)) is not None
    pending = asyncio.create_task(verifier.check(IP, resolved(view)))
    await view.apply(pod("b", "10.0.0.8", uid="u-b"))
    await asyncio.sleep(0.1)
    assert not pending.done()
    pending.cancel()
    verifier.close()


# ---- through the handlers (AWS) -------------------------------------------------------------


async def aws(view_objects: list[dict[str, Any]], truth: Truth) -> tuple[Any, Any, Any, Any]:
    from podwarden.metadata import firewall
    from podwarden.metadata.identity import service
    from podwarden.metadata.identity.settings import IdentitySettings
    from podwarden.metadata.model import ProviderName

    from .test_layer import Clock, Sts

    view = store.ClusterView()
    for obj in view_objects:
        await view.apply(obj)
    clock = Clock()
    sts = Sts(clock)
    identity = await service.start(
        IdentitySettings(provider=ProviderName.AWS, address_wait=0.3, verify_interval=0.0),
        view=view,
        upstream_url="http://127.0.0.1:9",
        clock=clock,
        aws_fetch=sts.assume,
        maintenance=False,
        verify_lookup=truth,
    )
    return identity, firewall.build(ProviderName.AWS), view, sts


async def credentials(identity: Any, fw: Any, role: str) -> tuple[int, str]:
    from .test_layer import serve

    decision = await serve(
        identity, identity.firewall(fw), f"/latest/meta-data/iam/security-credentials/{role}"
    )
    return decision.status, decision.body.decode()


PERMIT = namespace("default", {keys.AWS_ALLOWED_ROLES: '["*"]'})


def with_role(name: str, uid: str, role: str) -> dict[str, Any]:
    return pod(name, IP, uid=uid, annotations={keys.AWS_ROLE: role})


async def test_handler_serves_the_new_pod_when_the_view_catches_up_and_its_role_is_asked() -> None:
    old, new = with_role("old", "u-old", ROLE), with_role("new", "u-new", ROLE)
    identity, fw, view, sts = await aws([PERMIT, old], Truth(new))

    async def late_watch() -> None:
        await asyncio.sleep(0.05)
        await view.delete(old)
        await view.apply(new)

    task = asyncio.create_task(late_watch())
    status, body = await credentials(identity, fw, "reader")
    await task
    assert status == 200
    await identity.cache.idle()
    sessions = [c.session_name for c in sts.calls]
    issued_to = sessions[int(json.loads(body)["AccessKeyId"][4:]) - 1]
    assert issued_to == "default.new"  # the new pod's own session, not the old pod's
    assert identity.verifier.outcomes["mismatch"] == 1
    await identity.close()


async def test_handler_refuses_when_the_new_pod_has_another_role() -> None:
    old = with_role("old", "u-old", ROLE)
    new = with_role("new", "u-new", "arn:aws:iam::123456789012:role/other")
    identity, fw, view, _ = await aws([PERMIT, old], Truth(new))

    async def late_watch() -> None:
        await asyncio.sleep(0.05)
        await view.delete(old)
        await view.apply(new)

    task = asyncio.create_task(late_watch())
    status, _ = await credentials(identity, fw, "reader")  # what the old pod had
    await task
    assert status == 404
    await identity.close()


async def test_handler_refuses_credentials_on_api_error() -> None:
    old = with_role("old", "u-old", ROLE)
    truth = Truth(old)
    truth.error = ApiUnavailable("down")
    identity, fw, _, _ = await aws([PERMIT, old], truth)
    status, _ = await credentials(identity, fw, "reader")
    assert status == 404
    assert identity.verifier.outcomes["api_error"] == 1
    await identity.close()
