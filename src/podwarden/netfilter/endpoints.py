"""The catalogue of metadata endpoints a pod must never reach directly.

Two lists per provider, on purpose different: `redirected` endpoints are
DNAT'ed to the proxy (it knows how to answer them safely); every address in
`METADATA_V4`/`METADATA_V6` is otherwise refused, whatever the provider, so a
pod on an AWS node cannot reach Azure's WireServer or Alibaba's service by
accident of a mixed image. Port 53 is the exception everywhere: GKE serves
DNS on 169.254.169.254, Azure on 168.63.129.16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from podwarden.api import metadata_addresses

RuleProvider = Literal["aws", "gce", "azure", "alibaba"]
PROVIDERS: tuple[RuleProvider, ...] = ("aws", "gce", "azure", "alibaba")
DNS_PORT = 53


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """One TCP address:port served by a cloud metadata service."""

    family: Literal[4, 6]
    address: str
    port: int


METADATA_V4: tuple[str, ...] = metadata_addresses.HOSTS_V4
METADATA_V6: tuple[str, ...] = (metadata_addresses.IMDS_MAPPED, *metadata_addresses.HOSTS_V6)

_IMDS = (
    Endpoint(4, metadata_addresses.IMDS_V4, 80),
    Endpoint(6, metadata_addresses.IMDS_V6, 80),
    Endpoint(6, metadata_addresses.IMDS_MAPPED, 80),
)

REDIRECTED: dict[RuleProvider, tuple[Endpoint, ...]] = {
    "aws": (
        *_IMDS,
        Endpoint(4, metadata_addresses.ECS_V4, 80),
        Endpoint(4, metadata_addresses.EKS_POD_IDENTITY_V4, 80),
        Endpoint(6, metadata_addresses.EKS_POD_IDENTITY_V6, 80),
    ),
    # GCE's metadata server also answers on 8080: an open second port is a bypass.
    "gce": (*_IMDS, Endpoint(4, metadata_addresses.IMDS_V4, 8080)),
    # WireServer (168.63.129.16:80 and :32526) is never redirected, only refused:
    # its :32526 handed out AKS bootstrap tokens, and pods have no business there.
    "azure": _IMDS,
    "alibaba": (Endpoint(4, metadata_addresses.ALIBABA_V4, 80),),
}


def redirected(provider: RuleProvider) -> tuple[Endpoint, ...]:
    """The endpoints sent to the proxy for `provider`, sorted for stable output."""
    return tuple(sorted(REDIRECTED[provider]))
