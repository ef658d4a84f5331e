"""`podwarden webhook certs`: a private CA and the webhook's serving certificate.

The API server reaches a webhook Service as `S.N.svc` and checks the certificate
against the `caBundle` of the Validating/MutatingWebhookConfiguration, so the
serving certificate carries every name the Service answers to (S, S.N, S.N.svc,
S.N.svc.cluster.local) and the CA is handed over as base64 PEM. ECDSA P-256 keys:
small, and handshakes several times cheaper than RSA-2048.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
CA_BUNDLE = "caBundle"


@dataclass(frozen=True)
class Written:
    """Where the files went, and the caBundle value to paste into the configuration."""

    directory: Path
    ca_bundle: str
    dns_names: tuple[str, ...]


def service_names(service: str, namespace: str) -> list[str]:
    """Every DNS name a Service answers to inside the cluster."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)  # readers (the reloading webhook) never see half a file


def issue(
    *,
    service: str,
    namespace: str,
    out: Path,
    extra_dns: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    days: int = 365,
) -> Written:
    """Create a CA and a serving certificate signed by it in `out`."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"podwarden webhook CA {service}")]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    dns = [*service_names(service, namespace), *extra_dns]
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[2])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    bundle = base64.b64encode(ca_pem).decode()
    _write(out / CA_CERT, ca_pem)
    _write(out / CA_KEY, _pem_key(ca_key), private=True)
    _write(out / TLS_KEY, _pem_key(key), private=True)
    _write(out / TLS_CERT, cert.public_bytes(serialization.Encoding.PEM))
    _write(out / CA_BUNDLE, bundle.encode() + b"\n")
    return Written(out, bundle, tuple(dns))
