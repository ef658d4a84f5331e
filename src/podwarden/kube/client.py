"""The one narrow interface to a Kubernetes API: configuration, GET, and watch streams.

lightkube does the configuration work (kubeconfig contexts, in-cluster
service-account token with re-reading on rotation, CA, client certificates,
exec plugins) and gives us its configured HTTP client. The reflector talks raw
JSON over it because it needs protocol details lightkube's typed `watch` hides
(`allowWatchBookmarks`, the list's resourceVersion, an ERROR event's 410);
`Api.lightkube()` hands typed lightkube calls (Events, get/patch) to other parts.
Foreign exceptions are translated here into `ApiStatusError` / `ApiUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx  # lightkube's HTTP stack; we use the client it configures
import lightkube
from lightkube.config.client_adapter import AsyncClient as adapter_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SERVICE_ACCOUNT, KubeConfig, SingleConfig
from lightkube.config.models import Cluster, User
from lightkube.core.exceptions import ConfigError as LightkubeConfigError

from podwarden.config import ConfigError


class ApiUnavailable(Exception):
    """The API server could not be reached or the connection broke."""


class ApiStatusError(Exception):
    """The API server answered with an error Status object."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message

    @classmethod
    def from_status(cls, status: Mapping[str, Any], *, fallback_code: int = 500) -> ApiStatusError:
        return cls(
            int(status.get("code") or fallback_code),
            str(status.get("reason") or ""),
            str(status.get("message") or ""),
        )


@dataclass
class Api:
    """A configured connection to one API server."""

    config: SingleConfig
    http: httpx.AsyncClient

    @property
    def server(self) -> str:
        return str(self.config.cluster.server)

    def lightkube(self) -> lightkube.AsyncClient:
        """A typed lightkube client over the same configuration."""
        return lightkube.AsyncClient(config=self.config)

    async def get_json(self, path: str, *, params: Mapping[str, str] | None = None) -> Any:
        """GET `path` and decode JSON; errors become ApiStatusError / ApiUnavailable."""
        try:
            response = await self.http.get(path, params=dict(params or {}))
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"GET {path}: {exc!r}") from None
        return _decode(response.status_code, response.content, path)

    async def stream_lines(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """A watch stream: one decoded JSON object per line until the server closes.

        `read_timeout` bounds the silence between lines, so a server that vanished
        without closing the connection is noticed (ApiUnavailable) instead of awaited
        forever.
        """
        request = self.http.build_request(
            "GET",
            path,
            params=dict(params or {}),
            timeout=httpx.Timeout(10.0, read=read_timeout),
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"watch {path}: {exc!r}") from None
        try:
            if response.status_code >= 400:
                _decode(response.status_code, await response.aread(), path)
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"watch {path}: {exc!r}") from None
        except json.JSONDecodeError as exc:
            raise ApiUnavailable(f"watch {path}: undecodable line: {exc}") from None
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self.http.aclose()


def _decode(code: int, body: bytes, path: str) -> Any:
    try:
        decoded = json.loads(body) if body else {}
    except json.JSONDecodeError:
        decoded = None
    if code >= 400:
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            raise ApiStatusError.from_status(decoded, fallback_code=code)
        raise ApiStatusError(code, "", f"GET {path}: {body[:200]!r}")
    if decoded is None:
        raise ApiUnavailable(f"GET {path}: response is not JSON")
    return decoded


def _connect(config: SingleConfig) -> Api:
    params = ConnectionParams(timeout=httpx.Timeout(10.0), trust_env=False)
    try:
        return Api(config=config, http=adapter_client(config, params))
    except AssertionError as exc:  # lightkube asserts instead of raising (e.g. "Missing user")
        raise ConfigError(
            f"kubeconfig context {config.context_name!r} is incomplete: {exc or 'unusable'}"
        ) from None


def from_kubeconfig(path: Path | str, *, context: str | None = None) -> Api:
    """Connect as the kubeconfig's current context (or `context`)."""
    try:
        single = KubeConfig.from_file(path).get(context_name=context)
    except (OSError, LightkubeConfigError) as exc:
        raise ConfigError(f"{path}: not a usable kubeconfig: {exc}") from None
    if single is None:
        raise ConfigError(f"{path}: no current-context and no --context given")
    return _connect(single)


def from_config_dict(data: Mapping[str, Any], *, context: str) -> Api:
    """Connect with an already merged kubeconfig (kube.kubectlconfig) as `context`."""
    try:
        single = KubeConfig.from_dict(dict(data)).get(context_name=context)
    except (KeyError, TypeError, LightkubeConfigError) as exc:
        raise ConfigError(f"context {context!r}: not a usable kubeconfig: {exc!r}") from None
    if single is None:  # get() with a name never returns None
        raise ConfigError(f"context {context!r}: no usable configuration")
    return _connect(single)


def from_url(url: str, *, token: str | None = None) -> Api:
    """Connect to a plain URL (the lab API server), optionally with a bearer token."""
    config = KubeConfig.from_one(
        cluster=Cluster(server=url), user=User(token=token), namespace="default"
    ).get()
    if config is None:  # from_one always defines its one context
        raise ConfigError(f"{url}: no usable configuration")
    return _connect(config)


def in_cluster(*, service_account: Path | str = SERVICE_ACCOUNT) -> Api:
    """Connect with the pod's service-account token and CA (KUBERNETES_SERVICE_HOST/PORT)."""
    try:
        single = KubeConfig.from_service_account(service_account).get()
    except (OSError, KeyError, LightkubeConfigError) as exc:
        raise ConfigError(
            f"in-cluster configuration unusable ({service_account}, "
            f"KUBERNETES_SERVICE_HOST/PORT): {exc!r}"
        ) from None
    if single is None:  # from_service_account always defines its one context
        raise ConfigError(f"{service_account}: no usable in-cluster configuration")
    return _connect(single)
