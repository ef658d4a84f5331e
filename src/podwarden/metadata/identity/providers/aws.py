"""AWS pod identity: IMDS `meta-data/iam/**` and the container-credentials endpoint.

A pod names its role with `iam.amazonaws.com/role` (kube2iam's annotation;
`assign.aws` reads it); credentials come from STS AssumeRole with the node's
own credentials (`sts.py`) and are cached per AssumeRole input. Every
handler resolves the client to a pod first; a client that is not exactly one
known pod with a permitted role gets IMDS's own 404 page.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from podwarden.kube.objects import Pod
from podwarden.metadata.identity import answers, assign
from podwarden.metadata.identity.assign import AwsRole, Refusal
from podwarden.metadata.identity.cache import CredentialCache, SourceError
from podwarden.metadata.identity.container_tokens import container_token
from podwarden.metadata.identity.events import Recorder
from podwarden.metadata.identity.provider import Context, Handler, Parts, Source
from podwarden.metadata.identity.resolver import Resolved, Resolver
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.identity.sts import AwsCredentials, StsSource
from podwarden.metadata.model import CanonicalRequest, Settled
from podwarden.metadata.policy import Rule, RuleAction

AWS_IAM = "/meta-data/iam"
CONTAINER_PATH = "/v1/credentials"


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


class AwsIdentity:
    """`IdentityProvider[AwsRole, AwsRole, AwsCredentials]`: the AssumeRole input is the key."""

    def assign(
        self, pod: Pod, namespace: Mapping[str, str] | None, settings: IdentitySettings
    ) -> AwsRole | Refusal | None:
        return assign.aws(pod, namespace, settings)

    def rules(self, settings: IdentitySettings) -> tuple[Rule, ...]:
        found = [
            Rule(
                id="identity.aws",
                action=RuleAction.ANSWER,
                path=AWS_IAM + "/**",
                handler="aws.credentials",
            )
        ]
        if settings.container_token_secret is not None:
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

    async def open_source(self, context: Context) -> Source[AwsRole, AwsCredentials]:
        settings = context.settings
        refresh = settings.refresh_before
        if context.aws_fetch is not None:
            return Source("sts", fetch=context.aws_fetch, expiry=_expiry, refresh_before=refresh)
        sts = StsSource(
            region=settings.sts_region,
            endpoint_url=settings.sts_endpoint,
            duration=settings.session_duration,
            metadata_endpoint=context.upstream_url,
            session=context.aws_session,
        )
        await sts.open()
        return Source(
            "sts",
            fetch=sts.assume,
            expiry=_expiry,
            refresh_before=refresh,
            origin=sts,
            close=sts.close,
        )

    def cache_key(self, assignment: AwsRole, settings: IdentitySettings) -> AwsRole:
        return assignment

    def handlers(self, parts: Parts[AwsRole, AwsRole, AwsCredentials]) -> dict[str, Handler]:
        if parts.cache is None:
            raise ValueError("AWS identity needs its credential cache")
        return AwsHandlers(
            resolver=parts.resolver,
            cache=parts.cache,
            container_secret=parts.context.settings.container_token_secret,
            recorder=parts.context.recorder,
        ).table()


def _expiry(credentials: AwsCredentials) -> float:
    return credentials.expiration


PROVIDER = AwsIdentity()
