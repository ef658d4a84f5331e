"""Helpers shared by the firewall core's unit tests."""

from __future__ import annotations

import pytest

from podwarden.metadata import firewall
from podwarden.metadata.model import CanonicalRequest, Decision, ProviderName, RawRequest

FLAVOR = ("Metadata-Flavor", "Google")
AZURE = ("Metadata", "true")


@pytest.fixture(scope="session")
def firewalls() -> dict[ProviderName, firewall.Firewall]:
    return {name: firewall.build(name) for name in ProviderName}


def raw(
    target: str,
    *,
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> RawRequest:
    return RawRequest(method=method, target=target, headers=headers, client="10.1.2.3", body=body)


def judge(
    fw: firewall.Firewall,
    target: str,
    *,
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> tuple[CanonicalRequest | None, Decision]:
    return fw.evaluate(raw(target, method=method, headers=headers, body=body))
