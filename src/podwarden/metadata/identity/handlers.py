"""The proxy's ANSWER handlers for identity paths, and the rules that route to them.

Rules go in front of every other rule (the policy file's and the preset's),
so with identity on no rule can forward the node's own credentials paths.
Each handler resolves the client to a pod first; a client that is not
exactly one known pod with a permitted identity gets the provider's usual
"nothing here" (AWS 404, GCE 404, Azure 400 "Identity not found").
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from podwarden.kube.objects import Pod
from podwarden.metadata.identity import answers
from podwarden.metadata.identity.assign import AwsRole, AzureClient, GcpAccount
from podwarden.metadata.identity.aws import AwsCredentials
from podwarden.metadata.identity.budget import TokenBudget
from podwarden.metadata.identity.cache import CredentialCache, SourceError
from podwarden.metadata.identity.events import Recorder
from podwarden.metadata.identity.gcp import AccessToken, GcpKey
from podwarden.metadata.identity.resolver import Resolved, Resolver
from podwarden.metadata.identity.tokens import container_token
from podwarden.metadata.model import CanonicalRequest, Forward, ProviderName, Respond, Settled
from podwarden.metadata.policy import Rule, RuleAction
from podwarden.metadata.providers import azure as azure_provider
from podwarden.metadata.providers import gce as gce_provider
from podwarden.metadata.request import encode_target

Handler = Callable[[CanonicalRequest], Awaitable[Settled]]

AWS_IAM = "/meta-data/iam"
CONTAINER_PATH = "/v1/credentials"
GCE_ACCOUNTS = gce_provider.ROOT + "/instance/service-accounts"
AZURE_TOKEN = "/metadata/identity/oauth2/token"
AZURE_SELECTORS = ("object_id", "msi_res_id", "mi_res_id", "principal_id")


def rules(provider: ProviderName, *, container_endpoint: bool) -> tuple[Rule, ...]:
    """The ANSWER rules for `provider`, to be placed before every other rule."""
    if provider is ProviderName.AWS:
        found = [
            Rule(
                id="identity.aws",
                action=RuleAction.ANSWER,
                path=AWS_IAM + "/**",
                handler="aws.credentials",
            )
        ]
        if container_endpoint:
            found.append(
                Rule(
                    id="identity.aws-container",
                    action=RuleAction.ANSWER,
                    path=CONTAINER_PATH,
                    handler="aws.container-credentials",
                    match_full_path=True,
                )
            )
        return tuple(found)
    if provider is ProviderName.GCE:
        return (
            Rule(
                id="identity.gce",
                action=RuleAction.ANSWER,
                path=GCE_ACCOUNTS + "/**",
                handler="gce.service-accounts",
            ),
        )
    return (
        Rule(
            id="identity.azure", action=RuleAction.ANSWER, path=AZURE_TOKEN, handler="azure.token"
        ),
    )


class AwsHandlers:
    """IMDS `meta-data/iam/**` and the container-credentials endpoint."""

    def __init__(
        self,
        *,
        resolver: Resolver[AwsRole],
        cache: CredentialCache[AwsRole, AwsCredentials],
        container_secret: bytes | None,
        recorder: Recorder | None = None,
    ) -> None:
        self._resolver = resolver
        self._cache = cache
        self._secret = container_secret
        self._recorder = recorder

    def _failed(self, resolved: Resolved[AwsRole], exc: SourceError) -> None:
        """The source's own words go to the log and the pod's Event, never to the pod."""
        if self._recorder is not None and resolved.pod is not None and resolved.assignment:
            self._recorder.refused(
                resolved.pod,
                reason="CredentialsUnavailable",
                message=f"AssumeRole {resolved.assignment.arn} failed: {exc.code}: {exc.message}",
            )

    def table(self) -> dict[str, Handler]:
        found: dict[str, Handler] = {"aws.credentials": self.imds}
        if self._secret is not None:
            found["aws.container-credentials"] = self.container
        return found

    async def imds(self, req: CanonicalRequest) -> Settled:
        rest = req.tree_path[len(AWS_IAM) :]
        resolved = await self._resolver.resolve(req.client)
        role = resolved.assignment
        if role is None:
            return answers.imds_page("identity.aws.none", 404)
        if rest in ("", "/"):
            return answers.served("identity.aws.iam", "info\nsecurity-credentials/")
        if rest == "/info":
            return answers.served("identity.aws.info", answers.imds_info(role))
        if rest in ("/security-credentials", "/security-credentials/"):
            # The SDK asks next for what this names: a lagging view must not name
            # an older pod's role to the pod that now has the address.
            listed = await self._resolver.verified(req.client, resolved)
            if listed.assignment is None:
                return answers.imds_page("identity.aws.gone", 404)
            return answers.served("identity.aws.role", listed.assignment.name)
        if rest.rstrip("/") != f"/security-credentials/{role.name}":
            return answers.imds_page("identity.aws.other-role", 404)
        asked = role.name
        try:
            served = await self._resolver.fetch_verified(
                req.client,
                resolved,
                self._cache.get,
                accept=lambda final: (
                    final.assignment is not None and final.assignment.name == asked
                ),
            )
        except SourceError as exc:
            self._failed(resolved, exc)
            body = answers.imds_failure(role, code=exc.code, refused=exc.refused)
            return answers.refused(
                "identity.aws.failed", body, status=200, content_type=answers.TEXT
            )
        if served is None:
            return answers.imds_page("identity.aws.gone", 404)
        return answers.served("identity.aws.credentials", answers.imds_credentials(served[1]))

    async def container(self, req: CanonicalRequest) -> Settled:
        json_type = answers.JSON
        resolved = await self._resolver.resolve(req.client)
        role, pod = resolved.assignment, resolved.pod
        if role is None or pod is None or self._secret is None:
            body = answers.container_error("NotFound", "no role for this client")
            return answers.refused(
                "identity.container.none", body, status=404, content_type=json_type
            )
        given = req.headers.get("authorization", "")
        if not self._token_matches(given, pod):
            body = answers.container_error("Unauthorized", "the authorization token is not valid")
            return answers.refused(
                "identity.container.token", body, status=401, content_type=json_type
            )
        try:
            served = await self._resolver.fetch_verified(
                req.client,
                resolved,
                self._cache.get,
                accept=lambda final: (
                    final.pod is not None and self._token_matches(given, final.pod)
                ),
            )
        except SourceError as exc:
            self._failed(resolved, exc)
            body = answers.container_error(exc.code, "the role's credentials are unavailable")
            return answers.refused(
                "identity.container.failed", body, status=500, content_type=json_type
            )
        if served is None:
            body = answers.container_error("NotFound", "no role for this client")
            return answers.refused(
                "identity.container.gone", body, status=404, content_type=json_type
            )
        return answers.served(
            "identity.container.credentials",
            answers.container_credentials(served[1]),
            content_type=json_type,
        )

    def _token_matches(self, given: str, pod: Pod) -> bool:
        if self._secret is None:
            return False
        expected = container_token(self._secret, pod.uid or pod.key)
        return hmac.compare_digest(given.encode(), expected.encode())


def _gce_text(rule_id: str, body: str) -> Respond:
    return answers.served(rule_id, body, content_type=answers.GCE_TEXT)


def _gce_missing(rule_id: str) -> Respond:
    return answers.refused(
        rule_id, gce_provider.NOT_FOUND, status=404, content_type="text/plain; charset=utf-8"
    )


TOO_MANY = {
    "scope-sets": "Too many distinct scope sets asked for by this pod; "
    "reuse the scopes it already asked for.\n",
    "rate": "Too many new tokens asked for by this pod; try again in a minute.\n",
}


class GceHandlers:
    """`instance/service-accounts/**` answered for the pod's own service account."""

    def __init__(
        self,
        *,
        resolver: Resolver[GcpAccount],
        cache: CredentialCache[GcpKey, AccessToken],
        scopes: tuple[str, ...],
        clock: Callable[[], float],
        budget: TokenBudget | None = None,
    ) -> None:
        self._resolver = resolver
        self._cache = cache
        self._scopes = scopes
        self._clock = clock
        self._budget = budget or TokenBudget()

    def table(self) -> dict[str, Handler]:
        return {"gce.service-accounts": self.accounts}

    async def accounts(self, req: CanonicalRequest) -> Settled:
        rest = req.path[len(GCE_ACCOUNTS) :].strip("/")
        resolved = await self._resolver.resolve(req.client)
        account = resolved.assignment
        if account is None:
            return _gce_missing("identity.gce.none")
        if not rest:
            return _gce_text("identity.gce.listing", f"default/\n{account.email}/\n")
        name, _, tail = rest.partition("/")
        if name not in ("default", account.email):
            return _gce_missing("identity.gce.other-account")
        recursive = (req.query_value("recursive") or "").lower() == "true"
        if tail == "" and recursive:
            body = answers.gce_account(account.email, self._scopes)
            return answers.served("identity.gce.account", body, content_type=answers.JSON)
        simple = {
            "": answers.GCE_ACCOUNT_LISTING,
            "email": account.email,
            "aliases": "default",
            "scopes": "".join(f"{s}\n" for s in self._scopes),
        }
        if tail in simple:
            return _gce_text("identity.gce.account", simple[tail])
        if tail.startswith("identity"):
            return answers.refused(
                "identity.gce.identity",
                gce_provider.CONCEALED,
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        if tail != "token":
            return _gce_missing("identity.gce.unknown")
        return await self._token(req, resolved, account)

    async def _token(
        self, req: CanonicalRequest, resolved: Resolved[GcpAccount], account: GcpAccount
    ) -> Settled:
        asked = req.query_value("scopes")
        scopes = tuple(sorted(s for s in (asked or "").split(",") if s)) or tuple(
            sorted(self._scopes)
        )
        name = req.path[len(GCE_ACCOUNTS) :].strip("/").partition("/")[0]
        pod = (resolved.pod.uid or resolved.pod.key) if resolved.pod is not None else req.client
        cached = self._cache.peek(GcpKey(account.email, scopes)) is not None
        refused = self._budget.admit(
            pod, scopes, cached=cached, default=scopes == tuple(sorted(self._scopes))
        )
        if refused is not None:
            return answers.refused(
                f"identity.gce.{refused}",
                TOO_MANY[refused],
                status=429,
                content_type="text/plain; charset=utf-8",
            )

        async def fetch(found: GcpAccount) -> AccessToken:
            return await self._cache.get(GcpKey(found.email, scopes))

        try:
            served = await self._resolver.fetch_verified(
                req.client,
                resolved,
                fetch,
                accept=lambda final: (
                    final.assignment is not None and name in ("default", final.assignment.email)
                ),
            )
        except SourceError as exc:
            body = f"Failed to mint a token for {account.email}: {exc.code}\n"
            return answers.refused(
                "identity.gce.failed", body, status=500, content_type="text/plain; charset=utf-8"
            )
        if served is None:
            return _gce_missing("identity.gce.gone")
        body = answers.gce_token(served[1], now=self._clock())
        return answers.served("identity.gce.token", body, content_type=answers.JSON)


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
