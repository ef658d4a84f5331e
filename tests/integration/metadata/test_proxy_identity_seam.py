"""The seam for pod identity: ANSWER decisions are served by handlers the caller plugs in.

The firewall is the real one with one extra rule in front of the AWS preset
that answers the credentials path through a handler, as the identity work
will; the handlers here stand in for that work.
"""

from __future__ import annotations

import dataclasses
import json

from podwarden.metadata import firewall, policy
from podwarden.metadata.model import CanonicalRequest, Forward, Outcome, ProviderName, Respond

from .helpers import leaked, url

CREDENTIALS = "/latest/meta-data/iam/security-credentials/"


def answering_firewall(handler: str) -> firewall.Firewall:
    built = firewall.build(ProviderName.AWS)
    rule = policy.Rule(
        id="identity.credentials",
        action=policy.RuleAction.ANSWER,
        path="/meta-data/iam/security-credentials/**",
        handler=handler,
    )
    rules = (rule, *built.policy.rules)
    return dataclasses.replace(
        built, policy=policy.Policy(rules=rules, responses=built.policy.responses)
    )


async def test_a_handler_answers_with_the_pods_own_role(emulator, start_proxy, client):
    seen: list[CanonicalRequest] = []

    async def pod_role(request: CanonicalRequest) -> Respond:
        seen.append(request)
        return Respond(
            rule_id="identity.role",
            status=200,
            body=b"pod-role",
            content_type="text/plain",
            outcome=Outcome.ANSWER,
        )

    running = await start_proxy(
        ProviderName.AWS,
        await emulator(ProviderName.AWS),
        fw=answering_firewall("aws.credentials"),
        identity={"aws.credentials": pod_role},
    )
    async with client.get(url(running.port, CREDENTIALS)) as resp:
        assert (resp.status, await resp.text()) == (200, "pod-role")
    [request] = seen
    assert request.client == "127.0.0.1"
    assert request.path == CREDENTIALS


async def test_a_handler_may_forward_a_rewritten_request(emulator, start_proxy, client):
    async def forward(request: CanonicalRequest) -> Forward:
        return Forward(
            rule_id="identity.forward",
            upstream_target="/latest/meta-data/instance-id",
        )

    running = await start_proxy(
        ProviderName.AWS,
        await emulator(ProviderName.AWS),
        fw=answering_firewall("aws.credentials"),
        identity={"aws.credentials": forward},
    )
    async with client.get(url(running.port, CREDENTIALS + "anything")) as resp:
        assert (resp.status, await resp.text()) == (200, "i-0emulator0000001")


async def test_an_unknown_handler_is_a_deny(emulator, start_proxy, client):
    running = await start_proxy(
        ProviderName.AWS,
        await emulator(ProviderName.AWS),
        fw=answering_firewall("aws.credentials"),
    )
    async with client.get(url(running.port, CREDENTIALS + "emulator-node-role")) as resp:
        body = await resp.text()
        assert resp.status == 403
    assert body == "no handler 'aws.credentials' is configured in this proxy\n"
    assert not leaked(body)


async def test_a_failing_handler_is_a_clean_502(emulator, start_proxy, client, log_lines):
    async def broken(request: CanonicalRequest) -> Respond:
        raise RuntimeError("sts unreachable")

    running = await start_proxy(
        ProviderName.AWS,
        await emulator(ProviderName.AWS),
        fw=answering_firewall("aws.credentials"),
        identity={"aws.credentials": broken},
    )
    async with client.get(url(running.port, CREDENTIALS)) as resp:
        body = await resp.text()
        assert resp.status == 502
    assert body == "the credential source failed; try again later\n"
    failure = [r for r in log_lines.records() if r["event"] == "answer handler failed"]
    assert failure and "sts unreachable" in failure[0]["error"]
    assert json.dumps(log_lines.requests()[-1]).count("identity.credentials") == 1
