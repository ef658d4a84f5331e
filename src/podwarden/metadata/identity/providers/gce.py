"""GCE pod identity: `instance/service-accounts/**` answered for the pod's own account.

A pod names its Google service account with Workload Identity's annotation
(`assign.gcp`); tokens come from IAM Credentials' generateAccessToken with the
node's own token (`iam_credentials.py`), cached per account and scope set,
with a per-pod budget of new scope sets and tokens (`budget.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from podwarden.kube.objects import Pod
from podwarden.metadata.identity import answers, assign
from podwarden.metadata.identity.assign import GcpAccount, Refusal
from podwarden.metadata.identity.budget import TokenBudget
from podwarden.metadata.identity.cache import CredentialCache, SourceError
from podwarden.metadata.identity.iam_credentials import AccessToken, GcpKey, IamCredentialsSource
from podwarden.metadata.identity.provider import Context, Handler, Parts, Source
from podwarden.metadata.identity.resolver import Resolved, Resolver
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.model import CanonicalRequest, Respond, Settled
from podwarden.metadata.policy import Rule, RuleAction
from podwarden.metadata.providers import gce as gce_provider

GCE_ACCOUNTS = gce_provider.ROOT + "/instance/service-accounts"


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


class GceIdentity:
    """`IdentityProvider[GcpAccount, GcpKey, AccessToken]`: tokens are per account and scopes."""

    def assign(
        self, pod: Pod, namespace: Mapping[str, str] | None, settings: IdentitySettings
    ) -> GcpAccount | Refusal | None:
        return assign.gcp(pod, namespace, settings)

    def rules(self, settings: IdentitySettings) -> tuple[Rule, ...]:
        return (
            Rule(
                id="identity.gce",
                action=RuleAction.ANSWER,
                path=GCE_ACCOUNTS + "/**",
                handler="gce.service-accounts",
            ),
        )

    async def open_source(self, context: Context) -> Source[GcpKey, AccessToken]:
        settings = context.settings
        iam = IamCredentialsSource(
            upstream=context.upstream_url,
            iam_endpoint=settings.gcp_iam_endpoint,
            lifetime=settings.gcp_lifetime,
        )
        return Source(
            "iamcredentials",
            fetch=iam.token,
            expiry=_expiry,
            refresh_before=max(settings.gcp_lifetime / 2, settings.min_validity + 300),
            origin=iam,
        )

    def cache_key(self, assignment: GcpAccount, settings: IdentitySettings) -> GcpKey:
        return GcpKey(assignment.email, _scopes(settings))

    def handlers(self, parts: Parts[GcpAccount, GcpKey, AccessToken]) -> dict[str, Handler]:
        if parts.cache is None:
            raise ValueError("GCE identity needs its credential cache")
        return GceHandlers(
            resolver=parts.resolver,
            cache=parts.cache,
            scopes=_scopes(parts.context.settings),
            clock=parts.context.clock,
        ).table()


def _scopes(settings: IdentitySettings) -> tuple[str, ...]:
    return tuple(sorted(settings.gcp_scopes))


def _expiry(token: AccessToken) -> float:
    return token.expiry


PROVIDER = GceIdentity()
