"""Azure Instance Metadata Service (IMDS), as azure-identity/MSAL and curl see it.

Written by hand: no maintained library serves IMDS. Reproduced from the Azure
IMDS documentation and MSAL's managed-identity client: every request needs the
header `Metadata: true` (else 400 `Bad request. Required metadata header not
specified`) and must not carry `X-Forwarded-For`; duplicate query parameters are
refused; every endpoint but `/metadata/versions` needs a known `api-version`
(else 400 with the newest versions listed); paths are matched
case-insensitively, as the real service does; route parameters walk the JSON
(keys, then array indices); a leaf needs `format=text` (`format=json`, the
default, is a 400 there, as documented); the identity endpoint needs `resource`,
selects a user-assigned identity by exactly one of `client_id`, `object_id`,
`msi_res_id` and answers MSAL's token JSON with every field a string. Errors
are JSON, as IMDS sends them.

Deliberate deviations, for the lab: `compute.customData` is filled (real IMDS
has disabled it and answers "") so that the firewall's stripping of it can be
tested; where the public material does not pin the exact wording (the
X-Forwarded-For refusal, the leaf-with-json refusal) the messages are ours, and
the X-Forwarded-For one is the proxy's (metadata/providers/azure.py), so a pod
sees the same text with or without podwarden in between;
`format=text` on a directory lists its keys, one a line.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from podwarden.lab.cloud import secrets
from podwarden.lab.cloud.state import AzureIdentity, AzureState

VERSIONS = [
    "2017-03-01",
    "2017-04-02",
    "2017-08-01",
    "2017-10-01",
    "2017-12-01",
    "2018-02-01",
    "2018-04-02",
    "2018-10-01",
    "2019-02-01",
    "2019-03-11",
    "2019-04-30",
    "2019-06-01",
    "2019-06-04",
    "2019-08-01",
    "2019-08-15",
    "2019-11-01",
    "2020-06-01",
    "2020-07-15",
    "2020-09-01",
    "2020-10-01",
    "2020-12-01",
    "2021-01-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-08-01",
    "2021-10-01",
    "2021-11-01",
    "2021-11-15",
    "2021-12-13",
    "2022-02-01",
    "2022-03-01",
    "2022-03-31",
    "2022-07-01",
    "2022-08-01",
    "2023-07-01",
]
NEWEST = sorted(VERSIONS, reverse=True)[:3]
# Scheduled Events keeps its own version line.
SCHEDULED_EVENTS_VERSIONS = [
    "2017-03-01",
    "2017-08-01",
    "2017-11-01",
    "2019-01-01",
    "2019-04-01",
    "2019-08-01",
    "2020-07-01",
]
TOKEN_LIFETIME = 86399
_TOKEN_PATH = "/metadata/identity/oauth2/token"


def json_response(status: int, payload: object) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(payload),
        content_type="application/json",
        charset="utf-8",
        headers={"Server": "Microsoft-IIS/10.0"},
    )


def bad_request(message: str, **extra: object) -> web.Response:
    return json_response(400, {"error": f"Bad request. {message}", **extra})


def instance_document(azure: AzureState) -> dict[str, Any]:
    """The full /metadata/instance document (compute + network)."""
    resource_id = (
        f"/subscriptions/{azure.subscription_id}/resourceGroups/{azure.resource_group}"
        f"/providers/Microsoft.Compute/virtualMachineScaleSets/{azure.vm_name.split('_')[0]}"
        f"/virtualMachines/{azure.vm_name.rsplit('_', 1)[-1]}"
    )
    return {
        "compute": {
            "azEnvironment": "AzurePublicCloud",
            "customData": azure.custom_data,
            "isHostCompatibilityLayerVm": "false",
            "licenseType": "",
            "location": azure.location,
            "name": azure.vm_name,
            "offer": "",
            "osProfile": {
                "adminUsername": "azureuser",
                "computerName": azure.vm_name.replace("_", "00000"),
                "disablePasswordAuthentication": "true",
            },
            "osType": "Linux",
            "placementGroupId": "",
            "plan": {"name": "", "product": "", "publisher": ""},
            "platformFaultDomain": "0",
            "platformUpdateDomain": "0",
            "provider": "Microsoft.Compute",
            "publicKeys": [],
            "publisher": "",
            "resourceGroupName": azure.resource_group,
            "resourceId": resource_id,
            "securityProfile": {"secureBootEnabled": "false", "virtualTpmEnabled": "false"},
            "sku": "",
            "storageProfile": {"osDisk": {"osType": "Linux", "diskSizeGB": "128"}},
            "subscriptionId": azure.subscription_id,
            "tags": "aks-managed-poolName:nodepool1",
            "tagsList": [{"name": "aks-managed-poolName", "value": "nodepool1"}],
            "userData": azure.user_data,
            "version": "202601.01.0",
            "vmId": azure.vm_id,
            "vmScaleSetName": azure.vm_name.split("_")[0],
            "vmSize": azure.vm_size,
            "zone": azure.zone,
        },
        "network": {
            "interface": [
                {
                    "ipv4": {
                        "ipAddress": [
                            {"privateIpAddress": azure.private_ip, "publicIpAddress": ""}
                        ],
                        "subnet": [{"address": "10.224.0.0", "prefix": "16"}],
                    },
                    "ipv6": {"ipAddress": []},
                    "macAddress": azure.mac,
                }
            ]
        },
    }


def _descend(node: Any, segment: str) -> Any:
    """One path step: a key matched case-insensitively, or a list index."""
    if isinstance(node, dict):
        for key, child in node.items():
            if key.lower() == segment.lower():
                return child
        return None
    if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
        return node[int(segment)]
    return None


class Imds:
    """The Azure IMDS logic; `handle` answers any request under `/`."""

    def __init__(self, azure: AzureState) -> None:
        self.azure = azure

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if "X-Forwarded-For" in request.headers:
            return bad_request("Request contains X-Forwarded-For header")
        if request.headers.get("Metadata", "").lower() != "true":
            return bad_request("Required metadata header not specified")
        if len(request.query) != len(set(request.query)):
            return bad_request("Duplicate query parameters are not allowed.")
        path = request.path.lower().rstrip("/")
        if request.method not in ("GET", "HEAD") and path != "/metadata/scheduledevents":
            return json_response(405, {"error": "Method not allowed"})
        if path == "/metadata/versions":
            return json_response(200, {"apiVersions": VERSIONS})
        known = ("/metadata/instance", "/metadata/attested/document", "/metadata/scheduledevents")
        if not (path.startswith("/metadata/instance") or path in known or path == _TOKEN_PATH):
            return json_response(404, {"error": "Not found"})
        version = request.query.get("api-version")
        if version is None:
            return bad_request(
                "api-version was not specified in the request. "
                "For more information refer to aka.ms/azureimds",
                **{"newest-versions": NEWEST},
            )
        accepted = SCHEDULED_EVENTS_VERSIONS if path == "/metadata/scheduledevents" else VERSIONS
        if version not in accepted:
            return bad_request(
                "api-version is invalid or was not specified in the request. "
                "For more information refer to aka.ms/azureimds",
                **{"newest-versions": NEWEST},
            )
        if path == _TOKEN_PATH:
            return self._token(request)
        if path == "/metadata/scheduledevents":
            if request.method == "POST":
                return web.Response(status=200)
            return json_response(200, {"DocumentIncarnation": 0, "Events": []})
        if path == "/metadata/attested/document":
            return self._attested(request)
        return self._instance(request, path)

    def _instance(self, request: web.Request, path: str) -> web.Response:
        fmt = request.query.get("format", "json")
        if fmt not in ("json", "text"):
            return bad_request(f"Invalid format parameter {fmt!r}; use json or text.")
        node: Any = instance_document(self.azure)
        for segment in [s for s in path[len("/metadata/instance") :].split("/") if s]:
            node = _descend(node, segment)
            if node is None:
                return json_response(404, {"error": "Not found"})
        if isinstance(node, dict | list):
            if fmt == "text":
                keys = node if isinstance(node, dict) else range(len(node))
                text = "".join(f"{key}\n" for key in keys)
                return web.Response(text=text, content_type="text/plain", charset="utf-8")
            return json_response(200, node)
        if fmt == "json":
            return bad_request("Query parameter format=text is required for leaf nodes.")
        return web.Response(text=str(node), content_type="text/plain", charset="utf-8")

    def _attested(self, request: web.Request) -> web.Response:
        nonce = request.query.get("nonce", "")
        if nonce and (not nonce.isdigit() or len(nonce) > 32):
            return bad_request("Invalid nonce: use up to 32 digits.")
        return json_response(
            200, {"encoding": "pkcs7", "signature": secrets.AZURE_ATTESTED_SIGNATURE}
        )

    def _token(self, request: web.Request) -> web.Response:
        query = request.query
        resource = query.get("resource", "")
        if not resource:
            return json_response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Required audience parameter not specified",
                },
            )
        identity, problem = self.select_identity(
            client_id=query.get("client_id"),
            object_id=query.get("object_id"),
            msi_res_id=query.get("msi_res_id") or query.get("mi_res_id"),
        )
        if identity is None:
            return json_response(400, {"error": "invalid_request", "error_description": problem})
        now = int(time.time())
        return json_response(
            200,
            {
                "access_token": identity.token,
                "client_id": identity.client_id,
                "expires_in": str(TOKEN_LIFETIME),
                "expires_on": str(now + TOKEN_LIFETIME),
                "ext_expires_in": str(TOKEN_LIFETIME),
                "not_before": str(now),
                "resource": resource,
                "token_type": "Bearer",
            },
        )

    def select_identity(
        self, *, client_id: str | None, object_id: str | None, msi_res_id: str | None
    ) -> tuple[AzureIdentity | None, str]:
        """The identity a token request names (system-assigned when it names none)."""
        given = [v for v in (client_id, object_id, msi_res_id) if v]
        if len(given) > 1:
            return None, "Only one of client_id, object_id or msi_res_id may be specified"
        if not given:
            if self.azure.system_identity is None:
                return None, "Identity not found"
            return self.azure.system_identity, ""
        candidates = list(self.azure.user_identities)
        if self.azure.system_identity is not None:
            candidates.append(self.azure.system_identity)
        for identity in candidates:
            if client_id and identity.client_id.lower() == client_id.lower():
                return identity, ""
            if object_id and identity.object_id.lower() == object_id.lower():
                return identity, ""
            if (
                msi_res_id
                and identity.msi_res_id
                and identity.msi_res_id.lower() == msi_res_id.lower()
            ):
                return identity, ""
        return None, "Identity not found"
