"""The other credential hosts a pod can reach: ECS/EKS, Alibaba, Azure WireServer.

They exist so `podwarden probe` meets, in the lab, every door the issue names.
Each is the smallest faithful subset of its protocol: the ECS agent's
`GET /v2/credentials/<id>` (169.254.170.2), the EKS Pod Identity agent's
`GET /v1/credentials` with the service-account token in `Authorization`
(169.254.170.23), Alibaba ECS metadata with its RAM role credentials and
hardened-mode token (100.100.100.200), and Azure's WireServer
(168.63.129.16:80 `/?comp=versions`) with its host plugin
(:32526 `/vmSettings`, whose extension settings leak a node bootstrap token on
AKS — the reason a pod must not reach it).
"""

from __future__ import annotations

import json
import secrets as random_secrets
import time
from datetime import UTC, datetime, timedelta

from aiohttp import web

from podwarden.lab.cloud import secrets
from podwarden.lab.cloud.state import ExtrasState

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def _expiration(hours: int = 6) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime(_ISO)


def _json(status: int, payload: object) -> web.Response:
    return web.Response(status=status, text=json.dumps(payload), content_type="application/json")


class EcsAgent:
    """ECS task credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`'s endpoint."""

    def __init__(self, extras: ExtrasState) -> None:
        self.extras = extras

    async def handle(self, request: web.Request) -> web.StreamResponse:
        prefix = "/v2/credentials/"
        if request.method != "GET" or not request.path.startswith(prefix):
            return web.Response(status=404, text="404 page not found\n")
        if request.path[len(prefix) :] != self.extras.ecs_relative_id:
            return _json(
                400,
                {
                    "code": "InvalidIdInRequest",
                    "message": "CredentialsV2Request: Credentials not found",
                    "HTTPErrorCode": 400,
                },
            )
        return _json(
            200,
            {
                "RoleArn": self.extras.ecs_role_arn,
                "AccessKeyId": secrets.ECS_TASK_ACCESS_KEY_ID,
                "SecretAccessKey": secrets.ECS_TASK_SECRET_ACCESS_KEY,
                "Token": secrets.ECS_TASK_SESSION_TOKEN,
                "Expiration": _expiration(),
            },
        )


class EksPodIdentityAgent:
    """EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` + the projected SA token."""

    def __init__(self, extras: ExtrasState) -> None:
        self.extras = extras

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "GET" or request.path != "/v1/credentials":
            return web.Response(status=404, text="404 page not found\n")
        token = request.headers.get("Authorization", "")
        if not token:
            return web.Response(status=400, text="Service account token cannot be empty\n")
        if token != self.extras.eks_pod_identity_token:
            return web.Response(status=403, text="Service account token is not valid\n")
        return _json(
            200,
            {
                "AccessKeyId": secrets.EKS_POD_IDENTITY_ACCESS_KEY_ID,
                "SecretAccessKey": secrets.EKS_POD_IDENTITY_SECRET_ACCESS_KEY,
                "Token": secrets.EKS_POD_IDENTITY_SESSION_TOKEN,
                "AccountId": self.extras.eks_account_id,
                "Expiration": _expiration(),
            },
        )


class AlibabaMetadata:
    """Alibaba ECS metadata (100.100.100.200): RAM role credentials, optional token."""

    TOKEN_PATH = "/latest/api/token"
    TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"
    TOKEN_HEADER = "X-aliyun-ecs-metadata-token"

    def __init__(self, extras: ExtrasState) -> None:
        self.extras = extras
        self._tokens: dict[str, float] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == self.TOKEN_PATH:
            return self._token(request)
        if request.method != "GET":
            return web.Response(status=405, text="Method Not Allowed")
        token = request.headers.get(self.TOKEN_HEADER)
        if token is not None and self._tokens.get(token, 0.0) <= time.monotonic():
            return web.Response(status=401, text="Unauthorized")
        role = self.extras.alibaba_role_name
        now = datetime.now(UTC)
        leaves = {
            "/latest/meta-data/instance-id": self.extras.alibaba_instance_id,
            "/latest/meta-data/region-id": self.extras.alibaba_region_id,
            "/latest/meta-data/": "instance-id\nram/\nregion-id",
            "/latest/meta-data/ram/": "security-credentials/",
            "/latest/meta-data/ram/security-credentials/": role,
            f"/latest/meta-data/ram/security-credentials/{role}": json.dumps(
                {
                    "AccessKeyId": secrets.ALIBABA_ACCESS_KEY_ID,
                    "AccessKeySecret": secrets.ALIBABA_ACCESS_KEY_SECRET,
                    "Expiration": (now + timedelta(hours=6)).strftime(_ISO),
                    "SecurityToken": secrets.ALIBABA_SECURITY_TOKEN,
                    "LastUpdated": now.strftime(_ISO),
                    "Code": "Success",
                },
                indent=2,
            ),
        }
        body = leaves.get(path) or leaves.get(path + "/")
        if body is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(text=body, content_type="text/plain")

    def _token(self, request: web.Request) -> web.Response:
        if request.method != "PUT":
            return web.Response(status=405, text="Method Not Allowed")
        if "X-Forwarded-For" in request.headers:
            return web.Response(status=403, text="Forbidden")
        raw = request.headers.get(self.TTL_HEADER, "")
        ttl = int(raw) if raw.isdigit() else 0
        if not 1 <= ttl <= 21600:
            return web.Response(status=400, text="Bad Request")
        token = random_secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + ttl
        return web.Response(text=token, content_type="text/plain")


_VERSIONS_XML = """<?xml version="1.0" encoding="utf-8"?>
<Versions>
  <Preferred>
    <Version>2015-04-05</Version>
  </Preferred>
  <Supported>
    <Version>2015-04-05</Version>
    <Version>2012-11-30</Version>
    <Version>2012-09-15</Version>
    <Version>2012-05-15</Version>
    <Version>2011-12-31</Version>
    <Version>2011-10-15</Version>
    <Version>2011-08-31</Version>
    <Version>2011-04-07</Version>
    <Version>2010-12-15</Version>
    <Version>2010-28-10</Version>
  </Supported>
</Versions>
"""


class WireServer:
    """Azure WireServer (168.63.129.16:80): the version list and a goal state."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/" and request.query.get("comp") == "versions":
            return web.Response(text=_VERSIONS_XML, content_type="text/xml", charset="utf-8")
        if request.path == "/machine" and request.query.get("comp") == "goalstate":
            if "x-ms-version" not in request.headers:
                return web.Response(status=400, text="Bad Request: x-ms-version is required")
            body = (
                '<?xml version="1.0" encoding="utf-8"?>\n<GoalState><Version>2015-04-05'
                "</Version><Incarnation>1</Incarnation><Machine><ExpectedState>Started"
                "</ExpectedState></Machine></GoalState>\n"
            )
            return web.Response(text=body, content_type="text/xml", charset="utf-8")
        return web.Response(status=404, text="Not Found")


class HostGaPlugin:
    """The WireServer host plugin (168.63.129.16:32526): `/vmSettings` leaks secrets."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "GET" or request.path != "/vmSettings":
            return web.Response(status=404, text="Not Found")
        command = (
            "/opt/azure/containers/provision_start.sh "
            f"TLS_BOOTSTRAP_TOKEN={secrets.WIRESERVER_BOOTSTRAP_TOKEN} KUBELET_FLAGS=..."
        )
        settings = {
            "hostGAPluginVersion": "1.0.8.143",
            "vmSettingsSchemaVersion": "0.0",
            "activityId": "00000000-0000-0000-0000-00000000e0a1",
            "correlationId": "00000000-0000-0000-0000-00000000e0c1",
            "extensionGoalStatesSource": "FastTrack",
            "extensionGoalStates": [
                {
                    "name": "Microsoft.AKS.Compute.AKS.Linux.AKSNode",
                    "version": "1.0",
                    "state": "enabled",
                    "settings": [
                        {
                            "protectedSettingsCertThumbprint": "FAKEEMULATORTHUMBPRINT",
                            "protectedSettings": "",
                            "publicSettings": json.dumps({"commandToExecute": command}),
                        }
                    ],
                }
            ],
        }
        return _json(200, settings)
