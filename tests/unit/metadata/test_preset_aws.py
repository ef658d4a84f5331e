"""AWS strict preset: the allowlist, named refusals, dated versions, IMDSv2."""

from __future__ import annotations

import pytest

from podwarden.metadata import firewall
from podwarden.metadata.model import Forward, Handle, ProviderName, Respond
from podwarden.metadata.providers import IMMUTABLE_TTL, aws
from tests.unit.metadata.conftest import judge

AWS = ProviderName.AWS
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
NOT_FOUND = aws.page(404).encode()

ALLOWED = [
    # (target, rule id, cache ttl)
    ("/", "aws.versions", 0.0),
    ("/latest/", "aws.listing", 0.0),
    ("/latest/meta-data/", "aws.listing", 0.0),
    ("/latest/dynamic/instance-identity/", "aws.listing", 0.0),
    ("/latest/meta-data/ami-id", "aws.ami-id", IMMUTABLE_TTL),
    ("/latest/meta-data/instance-id", "aws.instance-id", IMMUTABLE_TTL),
    ("/latest/meta-data/instance-type", "aws.instance-type", IMMUTABLE_TTL),
    ("/latest/meta-data/placement/availability-zone", "aws.placement", IMMUTABLE_TTL),
    ("/latest/meta-data/placement/region", "aws.placement", IMMUTABLE_TTL),
    ("/latest/meta-data/hostname", "aws.hostname", 0.0),
    ("/latest/meta-data/local-hostname", "aws.hostname", 0.0),
    ("/latest/meta-data/local-ipv4", "aws.local-ipv4", 0.0),
    ("/latest/meta-data/mac", "aws.mac", 0.0),
    ("/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/vpc-id", "aws.network", 0.0),
    ("/latest/meta-data/services/domain", "aws.services", 0.0),
    ("/latest/dynamic/instance-identity/document", "aws.identity-document", 0.0),
    ("/2009-04-04/meta-data/instance-id", "aws.instance-id", IMMUTABLE_TTL),
    ("/1.0/meta-data/placement/availability-zone", "aws.placement", IMMUTABLE_TTL),
]


@pytest.mark.parametrize(("target", "rule_id", "ttl"), ALLOWED)
def test_allowed_paths_forward_the_canonical_target_keeping_the_version(
    firewalls, target, rule_id, ttl
):
    _, decision = judge(firewalls[AWS], target)
    assert (type(decision), decision.rule_id, decision.cache_ttl) == (Forward, rule_id, ttl)
    assert decision.upstream_target == target
    assert decision.forward_headers == ()
    assert decision.transform is None


DENIED = [
    ("/latest/meta-data/iam/info", "aws.iam"),
    ("/latest/meta-data/iam/", "aws.iam"),
    ("/latest/meta-data/iam/security-credentials/", "aws.iam"),
    ("/latest/meta-data/iam/security-credentials/node-role", "aws.iam"),
    ("/2009-04-04/meta-data/iam/security-credentials/node-role", "aws.iam"),
    ("/1.0/meta-data/iam/info", "aws.iam"),
    ("/latest/meta-data/IAM/info", "aws.iam"),
    (
        "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "aws.identity-credentials",
    ),
    ("/latest/user-data", "aws.user-data"),
    ("/latest/user-data/", "aws.user-data"),
    ("/2016-09-02/user-data", "aws.user-data"),
    ("/latest/dynamic/instance-identity/pkcs7", "aws.identity-signature"),
    ("/latest/dynamic/instance-identity/signature", "aws.identity-signature"),
    ("/latest/dynamic/instance-identity/rsa2048", "aws.identity-signature"),
    ("/latest/meta-data/public-keys/0/openssh-key", "default"),
    ("/latest/meta-data/spot/instance-action", "default"),
    ("/LATEST/meta-data/instance-id", "default"),
    ("/v1/meta-data/instance-id", "default"),
]


@pytest.mark.parametrize(("target", "rule_id"), DENIED)
def test_secrets_and_unlisted_paths_get_imds_not_found(firewalls, target, rule_id):
    _, decision = judge(firewalls[AWS], target)
    assert (type(decision), decision.rule_id, decision.status) == (Respond, rule_id, 404)
    assert decision.body == NOT_FOUND
    assert decision.content_type == "text/html"


def test_not_found_page_is_imds_wording():
    assert b"<title>404 - Not Found</title>" in NOT_FOUND
    assert b"<h1>404 - Not Found</h1>" in NOT_FOUND


@pytest.mark.parametrize("ttl", ["1", "21600", "300"])
def test_token_put_is_answered_by_the_proxy(firewalls, ttl):
    _, decision = judge(firewalls[AWS], "/latest/api/token", method="PUT", headers=((TTL, ttl),))
    assert (type(decision), decision.handler, decision.rule_id) == (
        Handle,
        "aws.token",
        "aws.token",
    )


@pytest.mark.parametrize(
    "headers",
    [
        (),
        ((TTL, "0"),),
        ((TTL, "21601"),),
        ((TTL, "-5"),),
        ((TTL, "abc"),),
        ((TTL, ""),),
        ((TTL, "١٢"),),
    ],
)
def test_token_put_with_a_bad_ttl_is_400(firewalls, headers):
    _, decision = judge(firewalls[AWS], "/latest/api/token", method="PUT", headers=headers)
    assert (type(decision), decision.status, decision.rule_id) == (
        Respond,
        400,
        "aws.token.ttl",
    )
    assert b"<h1>400 - Bad Request</h1>" in decision.body


def test_token_put_with_x_forwarded_for_is_403(firewalls):
    headers = ((TTL, "60"), ("X-Forwarded-For", "203.0.113.9"))
    _, decision = judge(firewalls[AWS], "/latest/api/token", method="PUT", headers=headers)
    assert (decision.status, decision.rule_id) == (403, "aws.token.forwarded")
    assert b"<h1>403 - Forbidden</h1>" in decision.body


def test_token_get_is_not_answered(firewalls):
    _, decision = judge(firewalls[AWS], "/latest/api/token")
    assert (type(decision), decision.status) == (Respond, 404)


def test_imdsv1_works_by_default(firewalls):
    assert firewalls[AWS].imdsv2_required is False
    _, decision = judge(firewalls[AWS], "/latest/meta-data/instance-id")
    assert type(decision) is Forward


def test_imdsv2_required_answers_tokenless_gets_with_401(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("imdsv2: required\n")
    fw = firewall.build(AWS, policy_file=policy)
    assert fw.imdsv2_required is True
    _, decision = judge(fw, "/latest/meta-data/instance-id")
    assert (type(decision), decision.status, decision.rule_id) == (
        Respond,
        401,
        "aws.imdsv2.required",
    )
    assert b"<h1>401 - Unauthorized</h1>" in decision.body
    _, decision = judge(
        fw, "/latest/meta-data/instance-id", headers=(("X-aws-ec2-metadata-token", "tok"),)
    )
    assert type(decision) is Forward
    _, decision = judge(fw, "/latest/api/token", method="PUT", headers=((TTL, "60"),))
    assert type(decision) is Handle


def test_no_response_header_is_added_for_aws(firewalls):
    assert firewalls[AWS].always_headers == ()


def test_token_put_with_trailing_slash_is_validated_too(firewalls):
    _, decision = judge(firewalls[AWS], "/latest/api/token/", method="PUT")
    assert (decision.status, decision.rule_id) == (400, "aws.token.ttl")
