"""The identity layer without sockets: handlers' answers, resolver, Events, maintenance, flags.

The view is a real `ClusterView`, the credential source a counting fake with
a fake clock; requests are canonical requests as the firewall makes them.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podwarden.api import keys
from podwarden.config import ConfigError
from podwarden.flags import load
from podwarden.kube import store
from podwarden.kube.objects import Pod
from podwarden.metadata import firewall
from podwarden.metadata.identity import service
from podwarden.metadata.identity.assign import AwsRole
from podwarden.metadata.identity.config import IdentityConfig, Plan
from podwarden.metadata.identity.events import Recorder
from podwarden.metadata.identity.resolver import peer_address
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.identity.sts import AwsCredentials
from podwarden.metadata.model import Forward, Handle, ProviderName, RawRequest, Respond
from tests.support import pods

ROLE = "arn:aws:iam::123456789012:role/reader"


@dataclass
class Clock:
    now: float = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


class Sts:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[AwsRole] = []

    async def assume(self, role: AwsRole) -> AwsCredentials:
        self.calls.append(role)
        now = self.clock.now
        return AwsCredentials(
            f"ASIA{len(self.calls)}", "secret", "token", now + 3600, now, role.arn
        )


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    async def create(self, pod: Pod, *, reason: str, message: str) -> None:
        self.events.append((pod.key, reason, message))


def ns(annotations: dict[str, str]) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": "team", "annotations": annotations}}


pod = functools.partial(pods.pod, namespace="team")


def request(fw: firewall.Firewall, path: str, client: str = "10.0.0.7", **headers: str):
    raw = RawRequest(method="GET", target=path, headers=tuple(headers.items()), client=client)
    canonical, decision = fw.evaluate(raw)
    assert canonical is not None
    return canonical, decision


async def aws_layer(*objects: dict[str, Any], sink: Sink | None = None, **kw: Any):
    clock = Clock()
    sts = Sts(clock)
    view = store.ClusterView()
    for obj in objects:
        await view.apply(obj)
    identity = await service.start(
        IdentitySettings(provider=ProviderName.AWS, address_wait=0.05, **kw),
        view=view,
        upstream_url="http://127.0.0.1:9",
        sink=sink,
        clock=clock,
        aws_fetch=sts.assume,
        maintenance=False,
    )
    fw = identity.firewall(firewall.build(ProviderName.AWS))
    return identity, fw, view, clock, sts


async def serve(identity: service.Identity, fw: firewall.Firewall, path: str, **kw: Any):
    canonical, decision = request(fw, path, **kw)
    assert type(decision) is Handle, decision
    return await identity.handlers[decision.handler](canonical)


PERMIT = ns({keys.AWS_ALLOWED_ROLES: '["*"]'})


async def test_identity_rules_come_before_the_presets_refusal():
    identity, fw, *_ = await aws_layer(PERMIT)
    _, decision = request(fw, "/latest/meta-data/iam/security-credentials/x")
    assert (type(decision), decision.handler) == (Handle, "aws.credentials")
    _, other = request(fw, "/latest/meta-data/identity-credentials/ec2/security-credentials/x")
    assert type(other) is Respond  # still refused: not a pod identity path
    await identity.close()


async def test_credentials_answer_is_imds_shaped_and_cached():
    identity, fw, _, _, sts = await aws_layer(
        PERMIT, pod("web", "10.0.0.7", annotations={keys.AWS_ROLE: ROLE})
    )
    assert identity.cache is not None
    await identity.cache.idle()  # prefetched when the layer started
    answer = await serve(identity, fw, "/latest/meta-data/iam/security-credentials/reader")
    body = json.loads(answer.body)
    assert answer.status == 200
    assert body["Expiration"] == "2033-05-18T04:33:20Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["LastUpdated"])
    assert body["AccessKeyId"] == "ASIA1" and len(sts.calls) == 1
    await identity.close()


async def test_maintenance_refreshes_ahead_and_forgets_pods_that_left():
    web = pod("web", "10.0.0.7", annotations={keys.AWS_ROLE: ROLE})
    identity, fw, view, clock, sts = await aws_layer(PERMIT, web)
    assert identity.cache is not None
    await identity.cache.idle()
    clock.now += 1000
    assert identity.maintain() == 0  # 2600s left: not yet due
    clock.now += 1000
    assert identity.maintain() == 1  # 1600s left: refresh ahead
    await identity.cache.idle()
    assert len(sts.calls) == 2
    answer = await serve(identity, fw, "/latest/meta-data/iam/security-credentials/reader")
    assert json.loads(answer.body)["AccessKeyId"] == "ASIA2"
    await view.delete(web)
    identity.maintain()
    assert len(identity.cache) == 0
    await identity.close()


async def test_a_refused_pod_gets_one_event_per_interval():
    sink = Sink()
    identity, fw, _, _, sts = await aws_layer(
        ns({}), pod("web", "10.0.0.7", annotations={keys.AWS_ROLE: ROLE}), sink=sink
    )
    for _ in range(3):
        answer = await serve(identity, fw, "/latest/meta-data/iam/security-credentials/")
        assert answer.status == 404
    await identity.recorder.flush()
    assert [e[1] for e in sink.events] == ["IdentityNotPermitted"]  # prefetch + 3 requests
    assert sts.calls == []
    await identity.close()


async def test_recorder_rate_limits_by_pod_reason_and_message():
    clock = Clock()
    sink = Sink()
    recorder = Recorder(sink, interval=300, clock=clock)
    web = Pod(pod("web", "10.0.0.7"))
    recorder.refused(web, reason="R", message="m")
    recorder.refused(web, reason="R", message="m")
    recorder.refused(web, reason="R", message="other")
    clock.now += 301
    recorder.refused(web, reason="R", message="m")
    await recorder.flush()
    assert [e[2] for e in sink.events] == ["m", "other", "m"]


@pytest.mark.parametrize(
    ("client", "address"),
    [
        ("10.0.0.7", "10.0.0.7"),
        ("::ffff:10.0.0.7", "10.0.0.7"),
        ("fd77:0:1::2", "fd77:0:1::2"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-address", None),
        ("", None),
    ],
)
def test_peer_addresses(client, address):
    assert peer_address(client) == address


async def test_azure_forwards_with_the_pods_client_id_only():
    client_id = "33333333-0000-0000-0000-00000000e002"
    view = store.ClusterView()
    await view.apply(ns({keys.AZURE_ALLOWED_CLIENT_IDS: '["*"]'}))
    await view.apply(pod("web", "10.0.0.7", annotations={keys.AZURE_CLIENT_ID: client_id}))
    identity = await service.start(
        IdentitySettings(provider=ProviderName.AZURE, address_wait=0.05),
        view=view,
        upstream_url="http://127.0.0.1:9",
        maintenance=False,
    )
    fw = identity.firewall(firewall.build(ProviderName.AZURE))
    base = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fx"
    answer = await serve(identity, fw, base, Metadata="true")
    assert type(answer) is Forward
    assert answer.upstream_target.endswith(f"&client_id={client_id}")
    for extra in ("&client_id=11111111-0000-0000-0000-00000000e001", "&object_id=x"):
        refused = await serve(identity, fw, base + extra, Metadata="true")
        assert (refused.status, json.loads(refused.body)["error_description"]) == (
            400,
            "Identity not found",
        )
    stranger = await serve(identity, fw, base, client="10.0.0.8", Metadata="true")
    assert stranger.status == 400
    await identity.close()


def parse(flags: dict[str, object]) -> Plan | None:
    """The identity plan from flag values, as `podwarden proxy` builds it."""
    return load(IdentityConfig, flags).plan(ProviderName.AWS)


def test_identity_is_off_without_a_cluster_source():
    assert parse({}) is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"kubeconfig": Path("k")}, "node: required with --kubeconfig/--in-cluster"),
        ({"kubeconfig": Path("k"), "cluster_file": Path("f"), "node": "n"}, "give only one"),
        ({"cluster_file": Path("f"), "session_duration": "10m"}, "session_duration: 600s"),
        (
            {"cluster_file": Path("f"), "address_wait": "soon"},
            "--address-wait: 'soon' is not a duration",
        ),
        (
            {"cluster_file": Path("f"), "verify_interval": "often"},
            "--verify-interval: 'often' is not a",
        ),
        ({"cluster_file": Path("f"), "verify_interval": "1m"}, "verify_interval: 60s is outside"),
        (
            {"cluster_file": Path("f"), "container_credentials_secret_file": Path("/nonexistent")},
            "--container-credentials-secret-file:",
        ),
    ],
)
def test_flag_errors_name_the_flag(flags, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(flags)


def test_flags_become_settings(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"0123456789abcdef0123\n")
    plan = parse(
        {
            "cluster_file": tmp_path / "pods.yaml",
            "session_duration": "45m",
            "session_tags": True,
            "container_credentials_secret_file": secret,
            "address_wait": "500ms",
            "verify_interval": "100ms",
        },
    )
    assert plan is not None
    assert plan.settings.session_duration == 2700
    assert plan.settings.container_token_secret == b"0123456789abcdef0123"
    assert plan.settings.session_tags is True
    assert plan.settings.address_wait == 0.5
    assert plan.settings.verify_interval == 0.1


async def test_a_node_address_has_no_identity_at_once_and_unknown_ones_still_wait(monkeypatch):
    """Host-network callers (node addresses) are answered without the address wait."""
    import time

    from podwarden.metadata.identity import local, resolver
    from podwarden.metadata.identity.events import Recorder

    monkeypatch.setattr(local, "is_local", lambda address, now=None: address == "10.0.0.5")
    view = store.ClusterView()
    found = resolver.Resolver(
        view,
        assign=lambda pod, ns: None,
        wait=0.3,
        recorder=Recorder(None, interval=60, clock=time.monotonic),
    )
    started = time.monotonic()
    assert (await found.resolve("10.0.0.5")).pod is None
    assert time.monotonic() - started < 0.1
    started = time.monotonic()
    assert (await found.resolve("10.0.0.6")).pod is None
    assert time.monotonic() - started >= 0.25
