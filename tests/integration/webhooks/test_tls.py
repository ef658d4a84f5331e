"""`webhook certs` output, checked with cryptography and by real TLS clients; cert reload."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from podwarden.webhooks import certs
from tests.integration.webhooks.conftest import Client, Starter


def _podwarden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "podwarden"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_certs_command_writes_a_ca_and_a_serving_certificate(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    done = _podwarden(
        "webhook", "certs", "--service", "guard", "--namespace", "sec", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    # caBundle: printed, written, and exactly base64 of the CA PEM
    bundle = (out / "caBundle").read_text().strip()
    assert done.stdout.strip() == bundle
    assert base64.b64decode(bundle) == (out / "ca.crt").read_bytes()
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [
        "guard",
        "guard.sec",
        "guard.sec.svc",
        "guard.sec.svc.cluster.local",
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert os.stat(out / "tls.key").st_mode & 0o077 == 0
    assert os.stat(out / "ca.key").st_mode & 0o077 == 0


async def test_curl_trusting_only_the_ca_reaches_the_webhook(
    start_webhook: Starter, tmp_path: Path
) -> None:
    out = tmp_path / "certs"
    certs.issue(service="guard", namespace="sec", out=out)
    client = await start_webhook(tls_cert=out / "tls.crt", tls_key=out / "tls.key")
    port = client.port

    def curl(host: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "curl",
                "-sS",
                "--max-time",
                "5",
                "--cacert",
                str(out / "ca.crt"),
                "--resolve",
                f"{host}:{port}:127.0.0.1",
                f"https://{host}:{port}/healthz",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )

    for name in ("guard.sec.svc", "guard.sec.svc.cluster.local"):
        done = await asyncio.to_thread(curl, name)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "ok\n"
    wrong = await asyncio.to_thread(curl, "other.sec.svc")
    assert wrong.returncode != 0  # the name is not in the certificate


def _presented(port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="guard.sec.svc") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def _der(path: Path) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def _not_after(path: Path) -> float:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc.timestamp()


def _expiry_gauge(client: Client) -> float | None:
    registry = client.running.webhook.metrics.registry
    return registry.get_sample_value("podwarden_webhook_certificate_expiry_timestamp_seconds")


async def test_rotated_certificate_is_served_to_new_handshakes(
    start_webhook: Starter, tmp_path: Path
) -> None:
    first, second, live = tmp_path / "first", tmp_path / "second", tmp_path / "live"
    certs.issue(service="guard", namespace="sec", out=first, days=20)
    certs.issue(service="guard", namespace="sec", out=second, days=90)
    live.mkdir()
    for name in ("tls.crt", "tls.key"):
        shutil.copy(first / name, live / name)
    client = await start_webhook(tls_cert=live / "tls.crt", tls_key=live / "tls.key")
    assert await asyncio.to_thread(_presented, client.port) == _der(first / "tls.crt")
    assert _expiry_gauge(client) == _not_after(first / "tls.crt")  # what the alert reads
    # rotate the way a Secret volume does: new files swapped in
    for name in ("tls.key", "tls.crt"):
        shutil.copy(second / name, live / f".{name}.new")
        os.replace(live / f".{name}.new", live / name)
    for _ in range(100):
        if await asyncio.to_thread(_presented, client.port) == _der(second / "tls.crt"):
            break
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(_presented, client.port) == _der(second / "tls.crt")
    assert client.running.tls.reloads == 1
    assert _expiry_gauge(client) == _not_after(second / "tls.crt")
    assert _not_after(second / "tls.crt") - _not_after(first / "tls.crt") > 60 * 86400

    # and a client trusting only the new CA completes a verified handshake
    def verified_handshake() -> str | None:
        context = ssl.create_default_context(cafile=str(second / "ca.crt"))
        with (
            socket.create_connection(("127.0.0.1", client.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="guard.sec.svc") as tls,
        ):
            return tls.version()

    assert await asyncio.to_thread(verified_handshake) in ("TLSv1.2", "TLSv1.3")


async def test_a_broken_new_pair_keeps_the_old_certificate(
    start_webhook: Starter, tmp_path: Path
) -> None:
    live = tmp_path / "live"
    certs.issue(service="guard", namespace="sec", out=live)
    client = await start_webhook(tls_cert=live / "tls.crt", tls_key=live / "tls.key")
    before = await asyncio.to_thread(_presented, client.port)
    (live / "tls.crt").write_text("not a certificate\n")
    await asyncio.sleep(0.3)
    assert client.running.tls.check() is False
    assert await asyncio.to_thread(_presented, client.port) == before
