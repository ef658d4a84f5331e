"""Azure strict preset: Metadata header, api-version, case-insensitive paths, user data."""

from __future__ import annotations

import json

import pytest

from podwarden.metadata.model import Forward, ProviderName, Respond
from podwarden.metadata.providers import IMMUTABLE_TTL
from tests.unit.metadata.conftest import AZURE, judge

AZ = ProviderName.AZURE
Q = "?api-version=2021-02-01"
NOT_FOUND = b'{"error":"Not found"}'

ALLOWED = [
    ("/metadata/instance" + Q, "azure.instance", 0.0, True),
    ("/metadata/instance/compute" + Q, "azure.compute", 0.0, True),
    ("/metadata/instance/compute/" + Q, "azure.compute", 0.0, True),
    (
        "/metadata/instance/compute/vmId" + Q + "&format=text",
        "azure.compute-immutable",
        IMMUTABLE_TTL,
        False,
    ),
    (
        "/metadata/instance/compute/location" + Q + "&format=text",
        "azure.compute-immutable",
        IMMUTABLE_TTL,
        False,
    ),
    ("/metadata/instance/compute/tagsList" + Q, "azure.compute", 0.0, False),
    (
        "/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress" + Q,
        "azure.network",
        0.0,
        False,
    ),
    ("/metadata/scheduledevents" + Q, "azure.scheduledevents", 0.0, False),
    ("/metadata/versions", "azure.versions", 0.0, False),
    ("/METADATA/Instance/COMPUTE/VMID" + Q, "azure.compute-immutable", IMMUTABLE_TTL, False),
]


@pytest.mark.parametrize(("target", "rule_id", "ttl", "transformed"), ALLOWED)
def test_allowed_paths_forward_with_the_metadata_header(
    firewalls, target, rule_id, ttl, transformed
):
    _, decision = judge(firewalls[AZ], target, headers=(AZURE,))
    assert (type(decision), decision.rule_id, decision.cache_ttl) == (Forward, rule_id, ttl)
    assert decision.forward_headers == (("Metadata", "true"),)
    assert (decision.transform is not None) == transformed
    assert decision.upstream_target == target


def test_instance_document_loses_user_data_and_custom_data(firewalls):
    _, decision = judge(firewalls[AZ], "/metadata/instance" + Q, headers=(AZURE,))
    document = {
        "compute": {
            "vmId": "v",
            "userData": "c2VjcmV0",
            "customData": "x",
            "osProfile": {"adminUsername": "a", "CustomData": "y"},
        },
        "network": {"interface": []},
    }
    assert decision.transform is not None
    assert json.loads(decision.transform(json.dumps(document).encode())) == {
        "compute": {"vmId": "v", "osProfile": {"adminUsername": "a"}},
        "network": {"interface": []},
    }
    assert decision.transform(b"<html>") == b"{}"


DENIED = [
    (
        "/metadata/identity/oauth2/token" + Q + "&resource=https://management.azure.com/",
        400,
        "azure.identity-token",
        b'{"error":"invalid_request","error_description":"Identity not found"}',
    ),
    (
        "/metadata/identity/oauth2/token" + Q + "&resource=x&client_id=abc",
        400,
        "azure.identity-token",
        b'{"error":"invalid_request","error_description":"Identity not found"}',
    ),
    (
        "/Metadata/Identity/OAuth2/Token" + Q + "&resource=x",
        400,
        "azure.identity-token",
        b'{"error":"invalid_request","error_description":"Identity not found"}',
    ),
    ("/metadata/identity/info" + Q, 404, "azure.identity", NOT_FOUND),
    ("/metadata/attested/document" + Q, 404, "azure.attested", NOT_FOUND),
    ("/metadata/instance/compute/userData" + Q + "&format=text", 404, "azure.user-data", NOT_FOUND),
    ("/metadata/instance/compute/USERDATA" + Q, 404, "azure.user-data", NOT_FOUND),
    ("/metadata/instance/compute/customData" + Q, 404, "azure.user-data", NOT_FOUND),
    ("/metadata/instance/compute/userData/" + Q, 404, "azure.user-data", NOT_FOUND),
    ("/metadata/loadbalancer" + Q, 404, "default", NOT_FOUND),
    ("/metadata/" + Q, 404, "default", NOT_FOUND),
]


@pytest.mark.parametrize(("target", "status", "rule_id", "body"), DENIED)
def test_identity_attestation_and_user_data_are_refused(firewalls, target, status, rule_id, body):
    _, decision = judge(firewalls[AZ], target, headers=(AZURE,))
    assert (type(decision), decision.rule_id, decision.status) == (Respond, rule_id, status)
    assert decision.body == body
    assert decision.content_type.startswith("application/json")


@pytest.mark.parametrize(
    "target",
    [
        "/metadata/identity\\oauth2\\token" + Q + "&resource=x",
        "/metadata/identity/oauth2%5ctoken" + Q + "&resource=x",
        "/metadata/identity%2foauth2%2ftoken" + Q + "&resource=x",
        "/metadata/identity/oauth2/token/." + Q + "&resource=x",
    ],
)
def test_cve_2022_23551_backslash_bypass_is_refused(firewalls, target):
    canonical, decision = judge(firewalls[AZ], target, headers=(AZURE,))
    assert canonical is None
    assert (type(decision), decision.status, decision.rule_id) == (Respond, 400, "canonical")


@pytest.mark.parametrize(
    ("target", "headers", "rule_id", "error"),
    [
        (
            "/metadata/instance" + Q,
            (),
            "azure.header",
            "Bad request. Required metadata header not specified",
        ),
        (
            "/metadata/instance" + Q,
            (("Metadata", "false"),),
            "azure.header",
            "Bad request. Required metadata header not specified",
        ),
        (
            "/metadata/identity/oauth2/token" + Q + "&resource=x",
            (),
            "azure.header",
            "Bad request. Required metadata header not specified",
        ),
        (
            "/metadata/instance" + Q,
            (AZURE, ("X-Forwarded-For", "1.2.3.4")),
            "azure.forwarded",
            "Bad request. Request contains X-Forwarded-For header",
        ),
        (
            "/metadata/instance",
            (AZURE,),
            "azure.api-version",
            "Bad request. api-version was not specified in the request. "
            "For more information refer to aka.ms/azureimds",
        ),
    ],
)
def test_protocol_refusals_are_400_json(firewalls, target, headers, rule_id, error):
    _, decision = judge(firewalls[AZ], target, headers=headers)
    assert (type(decision), decision.rule_id, decision.status) == (Respond, rule_id, 400)
    assert json.loads(decision.body)["error"] == error


def test_missing_api_version_lists_newest_versions(firewalls):
    _, decision = judge(firewalls[AZ], "/metadata/instance", headers=(AZURE,))
    assert len(json.loads(decision.body)["newest-versions"]) == 3


def test_metadata_header_value_is_case_insensitive(firewalls):
    _, decision = judge(firewalls[AZ], "/metadata/versions", headers=(("metadata", "True"),))
    assert type(decision) is Forward
