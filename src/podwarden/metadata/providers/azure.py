"""Azure Instance Metadata Service: strict preset and IMDS's own refusals.

Wording sources (learn.microsoft.com, "Azure Instance Metadata Service"):
- 400 `{"error": "Bad request. Required metadata header not specified"}` (FAQ);
- 400 `{"error": "Bad request. api-version was not specified in the request.
  For more information refer to aka.ms/azureimds", "newest-versions": [...]}`;
- IMDS refuses requests carrying X-Forwarded-For (400, same JSON shape);
- the managed-identity endpoint speaks OAuth errors: 400
  `{"error": "invalid_request", "error_description": "Identity not found"}` is
  what a VM without that identity gets, and SDKs read it as "no credentials";
- unknown paths: 404 `{"error": "Not found"}`.

IMDS matches paths case-insensitively, so rules here see the lower-cased path
(`tree_path`); backslashes never reach a rule (refused by `request.py`), which
closes the aad-pod-identity bypass CVE-2022-23551. The node's own identity is
refused here; with pod identity on, `identity/providers/azure.py` puts its token rule in
front and answers each pod with the pod's own identity.
"""

from __future__ import annotations

import json
from typing import Any

from podwarden.metadata.model import CanonicalRequest, ProviderName, Respond
from podwarden.metadata.policy import Responses, Rule, RuleAction
from podwarden.metadata.providers import IMMUTABLE_TTL, Options, Profile, allower, refusal
from podwarden.metadata.request import Syntax

JSON = "application/json; charset=utf-8"
METADATA_HEADER = ("Metadata", "true")
NEWEST_VERSIONS = ("2023-07-01", "2021-12-13", "2021-10-01")
SECRET_KEYS = frozenset({"userdata", "customdata"})
QUERY_KEYS = frozenset(
    {
        "api-version",
        "format",
        "resource",
        "client_id",
        "object_id",
        "msi_res_id",
        "mi_res_id",
        "principal_id",
        "bypass_cache",
        "nonce",
        "extended",
    }
)


def _json(rule_id: str, status: int, document: dict[str, Any]) -> Respond:
    return refusal(rule_id, status, json.dumps(document, separators=(",", ":")), content_type=JSON)


def protocol(req: CanonicalRequest, options: Options) -> Respond | None:
    """IMDS's own checks: the Metadata header, no X-Forwarded-For, an api-version."""
    if req.headers.get("metadata", "").lower() != "true":
        return _json(
            "azure.header", 400, {"error": "Bad request. Required metadata header not specified"}
        )
    if "x-forwarded-for" in req.headers:
        return _json(
            "azure.forwarded",
            400,
            {"error": "Bad request. Request contains X-Forwarded-For header"},
        )
    if req.query_value("api-version") is None and not req.tree_path.startswith(
        "/metadata/versions"
    ):
        return _json(
            "azure.api-version",
            400,
            {
                "error": "Bad request. api-version was not specified in the request. "
                "For more information refer to aka.ms/azureimds",
                "newest-versions": list(NEWEST_VERSIONS),
            },
        )
    return None


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k.lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def without_user_data(body: bytes) -> bytes:
    """The instance document minus userData and customData (at any depth, any case).

    Anything unreadable becomes `{}`: a document we cannot inspect is not passed on.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return b"{}"
    return json.dumps(_strip(document), separators=(",", ":")).encode()


def _allow(rule_id: str, path: str, *, ttl: float = 0.0) -> Rule:
    return Rule(id=rule_id, action=RuleAction.ALLOW, path=path, cache_ttl=ttl)


IMMUTABLE_COMPUTE = (
    "vmid",
    "location",
    "zone",
    "vmsize",
    "subscriptionid",
    "resourcegroupname",
    "name",
    "azenvironment",
    "ostype",
)


def preset(options: Options) -> tuple[Rule, ...]:
    """Strict preset over lower-cased paths; unlisted paths get IMDS's 404."""
    return (
        Rule(
            id="azure.identity-token",
            action=RuleAction.DENY,
            path="/metadata/identity/oauth2/token*/**",
            status=400,
            message="Identity not found",
        ),
        Rule(id="azure.identity", action=RuleAction.DENY, path="/metadata/identity*/**"),
        Rule(id="azure.attested", action=RuleAction.DENY, path="/metadata/attested*/**"),
        Rule(
            id="azure.user-data",
            action=RuleAction.DENY,
            path="/metadata/instance/compute/userdata*/**",
        ),
        Rule(
            id="azure.user-data",
            action=RuleAction.DENY,
            path="/metadata/instance/compute/customdata*/**",
        ),
        Rule(
            id="azure.instance",
            action=RuleAction.ALLOW,
            path="/metadata/instance",
            transform=without_user_data,
        ),
        Rule(
            id="azure.compute",
            action=RuleAction.ALLOW,
            path="/metadata/instance/compute",
            transform=without_user_data,
        ),
        *(
            _allow(
                "azure.compute-immutable", f"/metadata/instance/compute/{name}", ttl=IMMUTABLE_TTL
            )
            for name in IMMUTABLE_COMPUTE
        ),
        _allow("azure.compute", "/metadata/instance/compute/**"),
        _allow("azure.network", "/metadata/instance/network/**"),
        _allow("azure.scheduledevents", "/metadata/scheduledevents"),
        _allow("azure.versions", "/metadata/versions"),
    )


def _deny(rule: Rule) -> Respond:
    if rule.path.startswith("/metadata/identity/oauth2"):
        status = rule.status or 400
        description = rule.message or "Identity not found"
        return _json(
            rule.id, status, {"error": "invalid_request", "error_description": description}
        )
    return _json(rule.id, rule.status or 404, {"error": rule.message or "Not found"})


PROFILE = Profile(
    name=ProviderName.AZURE,
    syntax=Syntax(provider=ProviderName.AZURE, query_keys=QUERY_KEYS, case_insensitive=True),
    always_headers=(),
    forward_headers=(METADATA_HEADER,),
    responses=Responses(
        not_found=lambda: _json("default", 404, {"error": "Not found"}),
        deny=_deny,
        conceal=lambda rule_id: _json(rule_id, 404, {"error": "Not found"}),
        allow=allower((METADATA_HEADER,)),
    ),
    protocol=protocol,
    preset=preset,
    rule_path=str.lower,
)
