"""A credential served through the real proxy is counted and logged as served, not refused.

Identity answers once reused the refusal verdict, so every credential handed
to a pod showed up as `decision="deny"` in `/metrics` and the access log, and
an alert on refusals fired on healthy traffic. These tests drive the proxy
with unchanged botocore against moto and read what an operator reads.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from podwarden import logs
from podwarden.api import keys
from podwarden.kube import store
from podwarden.metadata.model import ProviderName

from .conftest import READER
from .helpers import IMDS_CREDS, client_from, get, permit_all_roles, pod
from .test_aws import botocore_imds

pytestmark = pytest.mark.peers("moto", "boto3", "botocore")


async def _counts(metrics_port: int) -> dict[tuple[str, str], float]:
    """`podwarden_requests_total` as {(decision, rule): count}, scraped over HTTP."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        text = await resp.text()
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "podwarden_requests_total":
                found[(sample.labels["decision"], sample.labels["rule"])] = sample.value
    return found


def _access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    logs.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line.get("event") == "request"]


@pytest.fixture
def access_log() -> Any:
    stream = io.StringIO()
    logs.configure(level="info", stream=stream)
    yield stream
    logs.configure(level="info")


async def _stack_with_reader(node_env: Any, stack: Any) -> Any:
    view = store.ClusterView()
    for obj in (permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER})):
        await view.apply(obj)
    return await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url, metrics=True)


async def test_a_served_credential_is_counted_and_logged_as_an_answer(node_env, stack, access_log):
    running = await _stack_with_reader(node_env, stack)
    creds = await asyncio.to_thread(botocore_imds, running.proxy.port)
    assert creds is not None and creds.access_key != node_env.node_key

    counts = await _counts(running.proxy.metrics_port)
    served = counts.get(("answer", "identity.aws.credentials"), 0)
    assert served >= 1, counts
    assert ("deny", "identity.aws.credentials") not in counts, counts
    assert ("deny", "identity.aws.role") not in counts, counts  # the role listing, also served
    lines = [x for x in _access_lines(access_log) if x["rule"] == "identity.aws.credentials"]
    assert lines and {(x["decision"], x["status"]) for x in lines} == {("answer", 200)}, lines


async def test_a_refused_credential_and_a_policy_refusal_are_still_counted_as_deny(
    node_env, stack, access_log
):
    running = await _stack_with_reader(node_env, stack)
    port = running.proxy.port
    async with client_from("127.0.0.2") as stranger:  # no pod has this address
        status, _ = await get(stranger, f"http://127.0.0.1:{port}{IMDS_CREDS}reader")
    assert status == 404
    async with client_from("127.0.0.1") as owner:  # the pod itself, asking for a secret
        status, _ = await get(owner, f"http://127.0.0.1:{port}/latest/user-data")
    assert status == 404
    # The path that counts "answer" works in this same stack: the deny is not vacuous.
    creds = await asyncio.to_thread(botocore_imds, port)
    assert creds is not None

    counts = await _counts(running.proxy.metrics_port)
    assert counts.get(("deny", "identity.aws.none")) == 1, counts
    refusals = {rule for (decision, rule) in counts if decision == "deny"}
    assert any(rule.startswith("aws.") or rule == "default" for rule in refusals), counts
    assert counts.get(("answer", "identity.aws.credentials"), 0) >= 1, counts
    by_rule = {(x["rule"], x["decision"]) for x in _access_lines(access_log)}
    assert ("identity.aws.none", "deny") in by_rule, by_rule
    assert ("identity.aws.credentials", "answer") in by_rule, by_rule
