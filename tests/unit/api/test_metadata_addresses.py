"""The one list of metadata addresses agrees with every part that uses it."""

from __future__ import annotations

import ipaddress

from podwarden.api import metadata_addresses
from podwarden.lab.cloud import server
from podwarden.netfilter import endpoints


def test_every_address_the_lab_cloud_host_owns_is_refused_by_the_rules() -> None:
    refused = set(endpoints.METADATA_V4) | set(endpoints.METADATA_V6)
    for provider, addresses in server.LAB_ADDRESSES.items():
        for address, _port in addresses:
            assert address in refused, f"{provider} listens on {address}, which no rule covers"


def test_host_lists_hold_each_family_once_and_the_mapped_form_apart() -> None:
    v4 = metadata_addresses.HOSTS_V4
    v6 = metadata_addresses.HOSTS_V6
    assert all(ipaddress.ip_address(a).version == 4 for a in v4) and len(set(v4)) == len(v4)
    assert all(ipaddress.ip_address(a).version == 6 for a in v6) and len(set(v6)) == len(v6)
    mapped = ipaddress.IPv6Address(metadata_addresses.IMDS_MAPPED).ipv4_mapped
    assert str(mapped) == metadata_addresses.IMDS_V4
    assert metadata_addresses.IMDS_MAPPED not in v6
    assert metadata_addresses.IMDS_MAPPED in endpoints.METADATA_V6
