"""AWS credential source: STS AssumeRole with the node's own credentials (aiobotocore).

The node's credentials come from botocore's standard chain — environment,
shared config/credentials files, then the instance metadata service — with
the metadata endpoint pinned to the proxy's own upstream, so the chain can
only reach the metadata service the operator named (never a guessed address).
The node's credentials are used to call STS and for nothing else: a pod is
never given them, whatever fails. STS's error messages name the node's
principal ("User: arn:aws:sts::…:assumed-role/node-role/i-… is not
authorized…"): they are kept in `SourceError.message` for the log and the
pod's Event, and never reach the pod.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiobotocore.session import AioSession, get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from podwarden.metadata.identity.assign import AwsRole
from podwarden.metadata.identity.cache import SourceError

# STS answers these with a 4xx status, yet they say "not now", not "no".
_NOT_NOW = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded"})


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """One AssumeRole result; `expiration` and `issued` are Unix seconds."""

    access_key_id: str
    secret_access_key: str
    token: str
    expiration: float
    issued: float
    role_arn: str


class StsSource:
    """AssumeRole through one long-lived aiobotocore STS client."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None,
        duration: float,
        metadata_endpoint: str | None,
        session: AioSession | None = None,
    ) -> None:
        self._region = region
        self._endpoint = endpoint_url
        self._duration = int(duration)
        self._session = session or get_session()
        if metadata_endpoint:
            self._session.set_config_variable("ec2_metadata_service_endpoint", metadata_endpoint)
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self.calls = 0

    async def open(self) -> None:
        config = Config(
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=2,
            read_timeout=5,
        )
        self._client = await self._stack.enter_async_context(
            self._session.create_client(
                "sts", region_name=self._region, endpoint_url=self._endpoint, config=config
            )
        )

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def assume(self, role: AwsRole) -> AwsCredentials:
        """AssumeRole for `role`; any failure is a SourceError (never other credentials)."""
        if self._client is None:
            raise SourceError("NotReady", "the STS client is not open")
        params: dict[str, Any] = {
            "RoleArn": role.arn,
            "RoleSessionName": role.session_name,
            "DurationSeconds": self._duration,
        }
        if role.external_id:
            params["ExternalId"] = role.external_id
        if role.tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in role.tags]
        self.calls += 1
        try:
            answer = await self._client.assume_role(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "AssumeRoleFailed")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            raise SourceError(
                code,
                str(error.get("Message") or exc),
                refused=400 <= int(status or 0) < 500 and code not in _NOT_NOW,
            ) from None
        except BotoCoreError as exc:  # no node credentials, endpoint unreachable, ...
            raise SourceError(type(exc).__name__, str(exc)) from None
        creds = answer["Credentials"]
        expiration = creds["Expiration"]
        if isinstance(expiration, str):
            expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return AwsCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            token=creds["SessionToken"],
            expiration=expiration.timestamp(),
            issued=datetime.now(UTC).timestamp(),
            role_arn=role.arn,
        )
