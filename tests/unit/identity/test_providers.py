"""Every cloud the firewall speaks has an identity provider, and each routes only its own paths."""

from __future__ import annotations

import pytest

from podwarden.metadata.identity import providers
from podwarden.metadata.identity.providers import aws, azure, gce
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.model import ProviderName


def test_every_provider_name_has_a_starter():
    assert set(providers.STARTERS) == set(ProviderName)


@pytest.mark.parametrize(
    ("name", "module", "overrides", "expected"),
    [
        (ProviderName.AWS, aws, {}, [("identity.aws", "aws.credentials")]),
        (
            ProviderName.AWS,
            aws,
            {"container_token_secret": b"s" * 32},
            [
                ("identity.aws", "aws.credentials"),
                ("identity.aws-container", "aws.container-credentials"),
            ],
        ),
        (ProviderName.GCE, gce, {}, [("identity.gce", "gce.service-accounts")]),
        (ProviderName.AZURE, azure, {}, [("identity.azure", "azure.token")]),
    ],
)
def test_each_provider_routes_its_own_handlers(name, module, overrides, expected):
    settings = IdentitySettings(provider=name, **overrides)
    rules = module.PROVIDER.rules(settings)
    assert [(rule.id, rule.handler) for rule in rules] == expected
