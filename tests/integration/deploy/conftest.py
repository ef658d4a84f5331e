"""The chart's fixtures: the real helm (skipped only outside CI when it is missing), the
webhook certificates `podwarden webhook certs` writes, and renders of the chart."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploytools import helm

from podwarden.webhooks import certs

EXAMPLES = helm.CHART / "examples"
CLOUDS = ("aws", "gce", "azure")
CERT_MANAGER = "cert-manager.io/v1"
MONITORING = "monitoring.coreos.com/v1"


def helm_or_skip() -> None:
    try:
        helm.binary()
    except helm.HelmError as exc:
        if os.environ.get("CI"):
            raise  # `make test` installs helm: in CI its absence is a failure
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def webhook_certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("certs")
    certs.issue(service="podwarden-webhook", namespace="podwarden", out=out)
    yield out


# The node authorizer's Service IP in the chart's defaults: kube-apiserver calls it there.
NODEAUTH_IP = "10.96.0.53"


@pytest.fixture(scope="session")
def nodeauth_certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("nodeauth-certs")
    certs.issue(
        service="podwarden-nodeauth", namespace="podwarden", out=out, ip_addresses=[NODEAUTH_IP]
    )
    yield out


def files_mode(out: Path, key: str = "webhook") -> dict[str, Path]:
    """--set-file values for certificates from `podwarden webhook certs` output; key
    `nodeAuthorization` for the node authorizer's."""
    return {
        f"{key}.certificates.caBundle": out / certs.CA_BUNDLE,
        f"{key}.certificates.tlsCert": out / certs.TLS_CERT,
        f"{key}.certificates.tlsKey": out / certs.TLS_KEY,
    }
