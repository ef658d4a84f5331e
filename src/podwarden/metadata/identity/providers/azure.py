"""Azure pod identity: token requests forwarded with the pod's own managed identity.

A pod names its user-assigned managed identity's client ID
(`assign.azure`). Azure IMDS mints the token itself, so there is no source
and no cache here: the request goes upstream with `client_id` set to the
pod's, and anything else gets IMDS's own 400 "Identity not found".
"""

from __future__ import annotations

from collections.abc import Mapping

from podwarden.kube.objects import Pod
from podwarden.metadata.identity import answers, assign
from podwarden.metadata.identity.assign import AzureClient, Refusal
from podwarden.metadata.identity.provider import Context, Handler, Parts, Source
from podwarden.metadata.identity.resolver import Resolver
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.model import CanonicalRequest, Forward, Settled
from podwarden.metadata.policy import Rule, RuleAction
from podwarden.metadata.providers import azure as azure_provider
from podwarden.metadata.request import encode_target

AZURE_TOKEN = "/metadata/identity/oauth2/token"
AZURE_SELECTORS = ("object_id", "msi_res_id", "mi_res_id", "principal_id")


class AzureHandlers:
    """Token requests forwarded upstream with the pod's own client_id, or IMDS's 400."""

    def __init__(self, *, resolver: Resolver[AzureClient]) -> None:
        self._resolver = resolver

    def table(self) -> dict[str, Handler]:
        return {"azure.token": self.token}

    async def token(self, req: CanonicalRequest) -> Settled:
        resolved = await self._resolver.resolve(req.client)
        if resolved.assignment is not None:  # a token is about to be minted: be sure who asks
            resolved = await self._resolver.verified(req.client, resolved)
        client = resolved.assignment
        asked = (req.query_value("client_id") or "").lower()
        others = any(req.query_value(k) is not None for k in AZURE_SELECTORS)
        if client is None or others or (asked and asked != client.client_id):
            body = '{"error":"invalid_request","error_description":"Identity not found"}'
            return answers.refused(
                "identity.azure.none", body, status=400, content_type=azure_provider.JSON
            )
        query = tuple((k, v) for k, v in req.query if k != "client_id")
        query += (("client_id", client.client_id),)
        return Forward(
            rule_id="identity.azure.token",
            upstream_target=encode_target(AZURE_TOKEN, query),
            forward_headers=(azure_provider.METADATA_HEADER,),
        )


class AzureIdentity:
    """`IdentityProvider[AzureClient, AzureClient, None]`: IMDS mints, nothing is cached."""

    def assign(
        self, pod: Pod, namespace: Mapping[str, str] | None, settings: IdentitySettings
    ) -> AzureClient | Refusal | None:
        return assign.azure(pod, namespace, settings)

    def rules(self, settings: IdentitySettings) -> tuple[Rule, ...]:
        return (
            Rule(
                id="identity.azure",
                action=RuleAction.ANSWER,
                path=AZURE_TOKEN,
                handler="azure.token",
            ),
        )

    async def open_source(self, context: Context) -> Source[AzureClient, None] | None:
        return None

    def cache_key(self, assignment: AzureClient, settings: IdentitySettings) -> AzureClient:
        return assignment

    def handlers(self, parts: Parts[AzureClient, AzureClient, None]) -> dict[str, Handler]:
        return AzureHandlers(resolver=parts.resolver).table()


PROVIDER = AzureIdentity()
