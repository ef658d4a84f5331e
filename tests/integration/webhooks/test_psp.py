"""The PodSecurityPolicy walkthrough through the webhook, and PSP selection by RBAC / SAR."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from podwarden.lab.apiserver.server import LabApiServer
from podwarden.lab.ports import free_port
from tests.integration.webhooks.conftest import (
    Starter,
    load_example,
    may_use,
    namespace,
    review,
    sar_answers,
)

POLICY = {"mode": "psp", "psp": {"policies": ["policy.yaml"]}}
VAR_LOG = {"mode": "psp", "psp": {"policies": ["policy-var-log.yaml"]}}


def _patched(pod: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(answer["patch"]))
    result: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(pod), ops)
    return result


async def test_walkthrough_rootfs_pod_is_admitted_with_the_drops(start_webhook: Starter) -> None:
    client = await start_webhook(config=POLICY)
    pod = load_example("pod-rootfs.yaml")
    answer = await client.post("/mutate", review(pod))
    assert answer["allowed"]
    assert answer["auditAnnotations"] == {"psp": "example"}
    mutated = _patched(pod, answer)
    container = mutated["spec"]["containers"][0]
    assert sorted(container["securityContext"]["capabilities"]["drop"]) == ["NET_RAW", "SYS_CHROOT"]
    assert mutated["metadata"]["annotations"]["podwarden.io/psp"] == "example"
    # The mutated pod then passes /validate (the API server calls it after mutation) …
    assert (await client.post("/validate", review(mutated)))["allowed"]
    # … while the unmutated pod does not: /validate never mutates.
    unmutated = await client.post("/validate", review(pod))
    assert not unmutated["allowed"]
    assert "patch" not in unmutated


async def test_walkthrough_privileged_pod_is_refused(start_webhook: Starter) -> None:
    client = await start_webhook(config=POLICY)
    answer = await client.post("/mutate", review(load_example("pod-privileged.yaml")))
    assert not answer["allowed"]
    assert answer["status"]["code"] == 403
    assert answer["status"]["message"] == (
        "PodSecurityPolicy: unable to admit pod: [spec.containers[0].securityContext.privileged:"
        " Invalid value: true: Privileged containers are not allowed]"
    )


async def test_walkthrough_var_log_policy_refuses_host_root(start_webhook: Starter) -> None:
    client = await start_webhook(config=VAR_LOG)
    answer = await client.post("/mutate", review(load_example("pod-rootfs.yaml")))
    assert not answer["allowed"]
    assert answer["status"]["message"] == (
        "PodSecurityPolicy: unable to admit pod: [spec.volumes[0].hostPath.pathPrefix: "
        'Invalid value: "/": is not allowed to be used]'
    )


ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "use-example", "namespace": "team"},
    "rules": [
        {
            "apiGroups": ["policy"],
            "resources": ["podsecuritypolicies"],
            "verbs": ["use"],
            "resourceNames": ["example"],
        }
    ],
}


def _binding(subject: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "use-example", "namespace": "team"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "use-example"},
        "subjects": [subject],
    }


async def test_rbac_in_the_cluster_file_selects_policies(start_webhook: Starter) -> None:
    cluster = [namespace("team"), ROLE, _binding({"kind": "User", "name": "alice"})]
    client = await start_webhook(cluster=cluster, config=POLICY)
    pod = load_example("pod-rootfs.yaml")
    allowed = await client.post("/mutate", review(pod, namespace="team", user="alice"))
    assert allowed["allowed"]
    refused = await client.post("/mutate", review(pod, namespace="team", user="bob"))
    assert not refused["allowed"]
    assert refused["status"]["message"] == "PodSecurityPolicy: unable to admit pod: []"


async def test_subject_access_reviews_against_the_lab_api_server(
    start_webhook: Starter, tmp_path: Path
) -> None:
    # The lab answers exactly what is declared: the pod's service account `builder` (with
    # the groups its token carries) may use `example` in team; alice, asked too, may not.
    builder = may_use(
        "example",
        user="system:serviceaccount:team:builder",
        groups=("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"),
        namespace="team",
    )
    alice = may_use("example", namespace="team", allowed=False)
    lab = LabApiServer(bookmark_interval=60.0, sar_answers=sar_answers(builder, alice))
    port = free_port()
    await lab.start("127.0.0.1", port)
    try:
        lab.storage.create(lab.storage_type("namespaces"), None, {"metadata": {"name": "team"}})
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: lab, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: lab, user: {token: t}}]\n"
            "contexts: [{name: lab, context: {cluster: lab, user: lab}}]\n"
            "current-context: lab\n"
        )
        client = await start_webhook(kubeconfig=kubeconfig, config=POLICY)
        status, _ = await client.get("/healthz")
        assert status == 200
        pod = load_example("pod-rootfs.yaml")
        # alice may not use `example`, but the pod's service account may.
        as_builder = copy.deepcopy(pod)
        as_builder["spec"]["serviceAccountName"] = "builder"
        allowed = await client.post("/mutate", review(as_builder, namespace="team"))
        assert allowed["allowed"], allowed
        assert allowed["auditAnnotations"] == {"psp": "example"}
        refused = await client.post("/mutate", review(pod, namespace="team"))
        assert not refused["allowed"]
        assert refused["status"]["message"] == "PodSecurityPolicy: unable to admit pod: []"
    finally:
        await lab.stop()


@pytest.mark.parametrize("endpoint", ["/validate", "/mutate"])
async def test_update_is_never_mutated(start_webhook: Starter, endpoint: str) -> None:
    client = await start_webhook(config=POLICY)
    pod = load_example("pod-rootfs.yaml")
    old = copy.deepcopy(pod)
    pod["spec"]["containers"][0]["image"] = "busybox:1.37"
    answer = await client.post(endpoint, review(pod, operation="UPDATE", old=old))
    assert not answer["allowed"]  # admitting it would need the drops added: no mutation on update
    assert "patch" not in answer


async def test_namespace_labels_follow_the_api_server(
    start_webhook: Starter, tmp_path: Path
) -> None:
    lab = LabApiServer(bookmark_interval=60.0)
    port = free_port()
    await lab.start("127.0.0.1", port)
    try:
        namespaces = lab.storage_type("namespaces")
        lab.storage.create(namespaces, None, {"metadata": {"name": "team"}})
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: lab, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: lab, user: {token: t}}]\n"
            "contexts: [{name: lab, context: {cluster: lab, user: lab}}]\n"
            "current-context: lab\n"
        )
        client = await start_webhook(kubeconfig=kubeconfig)
        pod = load_example("pod-privileged.yaml")
        assert (await client.post("/validate", review(pod, namespace="team")))["allowed"]
        current = lab.storage.get(namespaces, None, "team")
        current["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
        lab.storage.update(namespaces, None, "team", current)
        for _ in range(100):
            answer = await client.post("/validate", review(pod, namespace="team"))
            if not answer["allowed"]:
                break
            await asyncio.sleep(0.05)
        assert not answer["allowed"]
        assert answer["status"]["message"].startswith('violates PodSecurity "baseline:latest"')
    finally:
        await lab.stop()
