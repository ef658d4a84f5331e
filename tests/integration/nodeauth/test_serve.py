"""`nodeauth serve` over TLS: both SubjectAccessReview versions, NodeRestriction reviews,
hostile bodies, readiness, metrics, certificate reload and the file source."""

from __future__ import annotations

import asyncio
import json
import uuid

from cryptography import x509

from podwarden.webhooks import certs

from .conftest import sar, serving, write_cluster

NODE_A = "system:node:node-a"


def dumps(body: object) -> bytes:
    return json.dumps(body).encode()


async def test_v1_and_v1beta1_reviews_come_back_in_their_version(client):
    for version in ("v1", "v1beta1"):
        own = sar(NODE_A, "get", "secrets", name="secret-a", namespace="default", version=version)
        code, body = await client.post("/authorize", own)
        assert code == 200
        assert body["apiVersion"] == f"authorization.k8s.io/{version}"
        assert body["status"] == {"allowed": True}
        assert body["spec"] == own["spec"]
        other = sar(NODE_A, "get", "secrets", name="secret-b", namespace="default", version=version)
        code, body = await client.post("/authorize", other)
        assert body["status"] == {
            "allowed": False,
            "denied": True,
            "reason": "podwarden node authorizer (mode deny): no relationship found between node "
            "'node-a' and this object",
        }


async def test_field_selectors_arrive_as_raw_text_or_requirements(client):
    _, body = await client.post(
        "/authorize", sar(NODE_A, "list", "pods", fields="spec.nodeName=node-a")
    )
    assert body["status"]["allowed"] is True
    parsed = sar(NODE_A, "list", "pods")
    parsed["spec"]["resourceAttributes"]["fieldSelector"] = {
        "requirements": [{"key": "spec.nodeName", "operator": "In", "values": ["node-a"]}]
    }
    _, body = await client.post("/authorize", parsed)
    assert body["status"]["allowed"] is True
    parsed["spec"]["resourceAttributes"]["fieldSelector"]["requirements"][0]["values"] = ["node-b"]
    _, body = await client.post("/authorize", parsed)
    assert body["status"]["denied"] is True


async def test_node_scoped_service_accounts_are_kept_to_their_node(client):
    extra = {"authentication.kubernetes.io/node-name": ["node-a"]}
    user = "system:serviceaccount:kube-system:shipper"
    own = sar(user, "list", "pods", fields="spec.nodeName=node-a", extra=extra)
    other = sar(user, "list", "pods", fields="spec.nodeName=node-b", extra=extra)
    assert (await client.post("/authorize", own))[1]["status"] == {"allowed": False}
    status = (await client.post("/authorize", other))[1]["status"]
    assert status["denied"] is True and "node-scoped to node node-a" in status["reason"]


async def test_users_that_are_not_nodes_get_no_opinion(client):
    for groups in ([], ["system:authenticated"]):
        code, body = await client.post(
            "/authorize",
            sar("alice", "get", "secrets", name="secret-b", namespace="default", groups=groups),
        )
        assert (code, body["status"]) == (200, {"allowed": False})


async def test_malformed_and_hostile_reviews_get_400_with_the_reason(client):
    sar_v1 = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview"}
    cases = {
        b"not json": "the body is not JSON",
        b"[1, 2]": "expected a SubjectAccessReview object, got list",
        dumps({**sar_v1, "apiVersion": "authorization.k8s.io/v2", "spec": {}}): (
            "apiVersion: 'authorization.k8s.io/v2' is not accepted"
        ),
        dumps({**sar_v1, "kind": "TokenReview", "spec": {}}): "kind: 'TokenReview' is not accepted",
        dumps({**sar_v1, "spec": {"resourceAttributes": {}}}): "spec.user: required",
        dumps({**sar_v1, "spec": {"user": "u"}}): (
            "exactly one of resourceAttributes and nonResourceAttributes"
        ),
        dumps({**sar_v1, "spec": {"user": "u", "groups": "x", "resourceAttributes": {}}}): (
            "spec.groups"
        ),
    }
    for body, reason in cases.items():
        code, answer = await client.post("/authorize", body)
        assert code == 400, body
        assert answer["reason"] == "BadRequest"
        assert reason in answer["message"], answer["message"]
    code, answer = await client.post("/authorize", b"{" + b" " * (4 * 1024 * 1024) + b"}")
    assert code == 400 and "exceeds" in answer["message"]
    code, answer = await client.post(
        "/admit", b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}'
    )
    assert code == 400 and "request" in answer["message"]


def admission_review(operation, resource, *, name, obj=None, old=None, sub="", user=NODE_A):
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "Node"},
            "resource": {"group": "", "version": "v1", "resource": resource},
            "subResource": sub,
            "name": name,
            "operation": operation,
            "userInfo": {"username": user, "groups": ["system:nodes"]},
            "object": obj,
            "oldObject": old,
        },
    }


async def test_node_restriction_refuses_relabelling_another_node(client):
    old = {"kind": "Node", "metadata": {"name": "node-b", "labels": {}}}
    new = {"kind": "Node", "metadata": {"name": "node-b", "labels": {"owned": "by-a"}}}
    code, body = await client.post(
        "/admit", admission_review("UPDATE", "nodes", name="node-b", obj=new, old=old)
    )
    response = body["response"]
    assert (code, response["allowed"], response["status"]["code"]) == (200, False, 403)
    assert (
        response["status"]["message"]
        == 'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"'
    )
    own_old = {"kind": "Node", "metadata": {"name": "node-a", "labels": {}}}
    own_new = {"kind": "Node", "metadata": {"name": "node-a", "labels": {"pool": "x"}}}
    code, body = await client.post(
        "/admit", admission_review("UPDATE", "nodes", name="node-a", obj=own_new, old=own_old)
    )
    assert body["response"]["allowed"] is True


async def test_health_readiness_and_metrics(client):
    assert await client.get("/healthz") == (200, "ok\n")
    assert await client.get("/readyz") == (200, "ok\n")
    await client.post(
        "/authorize", sar(NODE_A, "get", "secrets", name="secret-a", namespace="default")
    )
    _, text = await client.get("/metrics")
    assert 'podwarden_nodeauth_decisions_total{endpoint="authorize",outcome="allow"} 1.0' in text
    assert 'podwarden_nodeauth_graph_objects{kind="pod"} 2.0' in text
    client.running.server.draining = True
    assert await client.get("/readyz") == (503, "draining\n")
    _, body = await client.post(
        "/authorize", sar(NODE_A, "get", "secrets", name="secret-a", namespace="default")
    )
    assert body["status"]["allowed"] is False and body["status"]["denied"] is True
    assert body["status"]["evaluationError"] == "RuntimeError: draining"


async def test_an_internal_error_never_allows(client, monkeypatch):
    def broken(attrs):
        raise KeyError("boom")

    monkeypatch.setattr(client.running.server.engine, "authorize", broken)
    code, body = await client.post(
        "/authorize", sar(NODE_A, "get", "secrets", name="secret-a", namespace="default")
    )
    assert (code, body["status"]["allowed"], body["status"]["denied"]) == (200, False, True)
    assert body["status"]["evaluationError"] == "KeyError: 'boom'"


async def test_the_cluster_file_is_followed_and_a_broken_one_keeps_the_last_view(
    cert_dir, tmp_path
):
    cluster = write_cluster(tmp_path / "cluster.yaml")
    running, client = await serving(cert_dir, cluster)
    try:
        question = sar(NODE_A, "get", "secrets", name="secret-new", namespace="default")
        assert (await client.post("/authorize", question))[1]["status"]["allowed"] is False
        write_cluster(
            cluster,
            """
- kind: Pod
  metadata: {name: pod-new, namespace: default, uid: u}
  spec: {nodeName: node-a, volumes: [{name: s, secret: {secretName: secret-new}}]}
""",
        )
        for _ in range(50):
            if (await client.post("/authorize", question))[1]["status"]["allowed"]:
                break
            await asyncio.sleep(0.05)
        assert (await client.post("/authorize", question))[1]["status"]["allowed"] is True
        cluster.write_text("- {kind: Pod, metadata: {name: x}}\n- [broken")
        await asyncio.sleep(0.4)
        assert (await client.post("/authorize", question))[1]["status"]["allowed"] is True
    finally:
        await client.close()
        await running.stop()


async def test_a_rotated_certificate_is_served(cert_dir, tmp_path):
    import shutil
    import ssl

    live = tmp_path / "live"
    shutil.copytree(cert_dir, live)
    running, client = await serving(live, write_cluster(tmp_path / "c.yaml"))
    try:
        fresh = tmp_path / "fresh"
        certs.issue(
            service="podwarden-nodeauth",
            namespace="podwarden",
            out=fresh,
            ip_addresses=("127.0.0.1",),
        )
        shutil.copy(fresh / certs.TLS_KEY, live / certs.TLS_KEY)
        shutil.copy(fresh / certs.TLS_CERT, live / certs.TLS_CERT)
        for _ in range(50):
            if running.tls.reloads:
                break
            await asyncio.sleep(0.05)
        assert running.tls.reloads == 1
        port = int(running.url.rsplit(":", 1)[1])
        pem = await asyncio.to_thread(ssl.get_server_certificate, ("127.0.0.1", port))
        served = x509.load_pem_x509_certificate(pem.encode())
        issued = x509.load_pem_x509_certificate((fresh / certs.TLS_CERT).read_bytes())
        assert served.serial_number == issued.serial_number
    finally:
        await client.close()
        await running.stop()
