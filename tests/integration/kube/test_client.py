"""Client configuration: in-cluster (service-account token + CA over TLS) and kubeconfig."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from podwarden.config import ConfigError
from podwarden.kube import client, reflector, store
from podwarden.lab.apiserver.server import LabApiServer


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_in_cluster_config_uses_the_token_and_ca(
    tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("s3cret-token")
    (account / "namespace").write_text("podwarden")
    (account / "ca.crt").write_bytes(cert.read_bytes())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(port))
    server = LabApiServer(token="s3cret-token")
    await server.start("127.0.0.1", port, tls_cert=cert, tls_key=key)
    api = client.in_cluster(service_account=account)
    view = store.ClusterView()
    task = reflector.run(view, api=api, node_name="node-a")
    try:
        assert api.server == f"https://127.0.0.1:{port}"
        await asyncio.wait_for(view.synced.wait(), 5)
        assert view.namespace("kube-system") is not None
        # the kubelet rotates the token: the server wants the new one, the client re-reads it
        assert server.auth is not None
        server.auth.token = "rotated-token"
        (account / "token").write_text("rotated-token")
        assert (await api.get_json("/api/v1/namespaces/default"))["metadata"]["name"] == "default"
        server.auth.token = "only-the-server-knows"
        with pytest.raises(client.ApiStatusError) as refused:
            await api.get_json("/api/v1/namespaces")
        assert refused.value.code == 401 and refused.value.reason == "Unauthorized"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api.close()
        await server.stop()


def test_unusable_configuration_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="in-cluster configuration unusable"):
        client.in_cluster(service_account=tmp_path)
    with pytest.raises(ConfigError, match="not a usable kubeconfig"):
        client.from_kubeconfig(tmp_path / "missing")


async def test_errors_are_translated_at_the_edge(kubeconfig: Path, lab) -> None:
    api = client.from_kubeconfig(kubeconfig)
    try:
        with pytest.raises(client.ApiStatusError) as missing:
            await api.get_json("/api/v1/namespaces/default/pods/nope")
        assert (missing.value.code, missing.value.reason) == (404, "NotFound")
        await lab.server.stop()
        with pytest.raises(client.ApiUnavailable):
            await api.get_json("/api/v1/namespaces")
    finally:
        await api.close()


async def test_typed_lightkube_calls_work_against_the_lab(kubeconfig: Path, lab) -> None:
    from lightkube.models.core_v1 import ObjectReference
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Event, Pod
    from lightkube.types import PatchType

    lab.create_pod("web", node="node-a", ip="10.0.0.7")
    api = client.from_kubeconfig(kubeconfig)
    typed = api.lightkube()
    try:
        pod = await typed.get(Pod, "web", namespace="default")
        assert pod.status is not None and pod.status.podIP == "10.0.0.7"
        event = await typed.create(
            Event(
                metadata=ObjectMeta(generateName="web.", namespace="default"),
                involvedObject=ObjectReference(kind="Pod", name="web", namespace="default"),
                reason="RoleRefused",
                message="namespace does not permit role x",
                type="Warning",
            )
        )
        assert event.metadata is not None and event.metadata.name is not None
        assert event.metadata.name.startswith("web.") and len(event.metadata.name) == 9
        patched = await typed.patch(
            Pod,
            "web",
            {"metadata": {"annotations": {"iam.amazonaws.com/role": "r"}}},
            namespace="default",
            patch_type=PatchType.MERGE,
        )
        assert patched.metadata is not None
        assert patched.metadata.annotations == {"iam.amazonaws.com/role": "r"}
        names = [
            p.metadata.name async for p in typed.list(Pod, namespace="*") if p.metadata is not None
        ]
        assert names == ["web"]
    finally:
        await typed.close()
        await api.close()
