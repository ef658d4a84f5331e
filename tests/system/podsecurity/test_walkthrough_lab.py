"""The classic PSP walkthrough, end to end: webhook patch → capability set → real process.

The pod mounting the host's / is admitted by the example policy with SYS_CHROOT
and NET_RAW dropped by the patch. A process started, inside a network namespace
of its own, with the capability set the patched pod would get really cannot
chroot or ping, while the same commands with the unpatched pod's set can.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from podwarden.lab import netns
from tests.integration.webhooks.conftest import Starter, load_example, review
from tests.system.podsecurity.capsets import container_capabilities, setpriv_argv

POLICY = {"mode": "psp", "psp": {"policies": ["policy.yaml"]}}


@pytest.fixture
def pod_netns() -> Iterator[str]:
    tracker = netns.Tracker(prefix=f"pwpsp{uuid.uuid4().hex[:6]}-")
    try:
        yield tracker.add_netns("pod")
    finally:
        failures = tracker.close()
        assert not failures, failures


def _run(
    ns: str, capabilities: frozenset[str], argv: list[str]
) -> subprocess.CompletedProcess[str]:
    return netns.run(setpriv_argv(capabilities, argv), netns=ns, check=False, timeout=20)


async def _admitted_pod(start_webhook: Starter) -> tuple[dict[str, Any], dict[str, Any]]:
    client = await start_webhook(config=POLICY)
    pod = load_example("pod-rootfs.yaml")
    answer = await client.post("/mutate", review(pod))
    assert answer["allowed"], answer
    ops = json.loads(base64.b64decode(answer["patch"]))
    patched: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(pod), ops)
    privileged = await client.post("/mutate", review(load_example("pod-privileged.yaml")))
    assert not privileged["allowed"]
    assert "Privileged containers are not allowed" in privileged["status"]["message"]
    return pod, patched


async def test_patched_pod_cannot_chroot_or_ping(
    start_webhook: Starter,
    pod_netns: str,
) -> None:
    original, patched = await _admitted_pod(start_webhook)
    admitted = container_capabilities(patched["spec"]["containers"][0])
    unpatched = container_capabilities(original["spec"]["containers"][0])
    assert admitted < unpatched  # the patch only ever removes

    chroot = ["chroot", "/", "/bin/true"]
    ping = ["ping", "-c", "1", "-W", "2", "127.0.0.1"]
    hostroot = Path("/")  # the pod's hostPath volume: the host's /
    assert hostroot.is_dir()

    denied_chroot = _run(pod_netns, admitted, chroot)
    assert denied_chroot.returncode != 0
    assert "Operation not permitted" in denied_chroot.stderr
    denied_ping = _run(pod_netns, admitted, ping)
    assert denied_ping.returncode != 0
    assert "Operation not permitted" in denied_ping.stderr, denied_ping.stderr

    allowed_chroot = _run(pod_netns, unpatched, chroot)
    assert allowed_chroot.returncode == 0, allowed_chroot.stderr
    allowed_ping = _run(pod_netns, unpatched, ping)
    assert allowed_ping.returncode == 0, allowed_ping.stdout + allowed_ping.stderr
    assert "1 received" in allowed_ping.stdout


async def test_var_log_policy_refuses_the_rootfs_pod_and_writable_mounts(
    start_webhook: Starter,
) -> None:
    var_log = {"mode": "psp", "psp": {"policies": ["policy-var-log.yaml"]}}
    client = await start_webhook(config=var_log)
    rootfs = load_example("pod-rootfs.yaml")
    refused = await client.post("/mutate", review(rootfs))
    assert refused["allowed"] is False
    assert refused["status"]["message"] == (
        "PodSecurityPolicy: unable to admit pod: [spec.volumes[0].hostPath.pathPrefix: "
        'Invalid value: "/": is not allowed to be used]'
    )
    logs = copy.deepcopy(rootfs)
    logs["spec"]["volumes"][0]["hostPath"]["path"] = "/var/log/pods"
    writable = await client.post("/mutate", review(logs))
    assert writable["allowed"] is False  # PSP checks readOnly, it does not set it
    assert writable["status"]["message"].endswith(
        "[spec.containers[0].volumeMounts[0].readOnly: Invalid value: false: must be read-only]"
    )
    logs["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = True
    admitted = await client.post("/mutate", review(logs))
    assert admitted["allowed"], admitted
    ops = json.loads(base64.b64decode(admitted["patch"]))
    patched: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(logs), ops)
    container = patched["spec"]["containers"][0]
    assert {"SYS_CHROOT", "NET_RAW"} <= set(container["securityContext"]["capabilities"]["drop"])
