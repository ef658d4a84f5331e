"""Annotation and restriction rules, session names and tags, settings validation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from podwarden.api import keys
from podwarden.config import ConfigError
from podwarden.kube.objects import Pod
from podwarden.metadata.identity import assign
from podwarden.metadata.identity.settings import IdentitySettings, parse_duration
from podwarden.metadata.model import ProviderName
from tests.support import pods

BASE = "arn:aws:iam::123456789012:role/"
STS_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def pod(annotations: dict[str, str] | None = None, **meta: Any) -> Pod:
    return Pod(
        pods.pod(
            meta.get("name", "web-1"),
            "10.0.0.7",
            namespace=meta.get("namespace", "shop"),
            annotations=annotations,
            serviceAccountName="shop-sa",
        )
    )


def aws_settings(**kw: Any) -> IdentitySettings:
    return IdentitySettings(provider=ProviderName.AWS, **kw)


PERMIT_ALL = {keys.AWS_ALLOWED_ROLES: '["*"]'}


@pytest.mark.parametrize(
    ("annotation", "base", "arn"),
    [
        (BASE + "reader", None, BASE + "reader"),
        ("reader", BASE, BASE + "reader"),
        ("/reader", BASE, BASE + "reader"),
        ("arn:aws:iam::123456789012:role/team/reader", None, BASE + "team/reader"),
        ("reader", None, None),
        ("arn:aws:iam::123:role/x", None, None),
        ("arn:aws:s3:::bucket", None, None),
    ],
)
def test_role_arns(annotation, base, arn):
    assert assign.role_arn(annotation, base) == arn


def test_a_permitted_role_becomes_an_assume_role_call():
    found = assign.aws(
        pod({keys.AWS_ROLE: "reader", keys.AWS_EXTERNAL_ID: "ext-9"}),
        PERMIT_ALL,
        aws_settings(base_role_arn=BASE),
    )
    assert found == assign.AwsRole(
        arn=BASE + "reader", external_id="ext-9", session_name="shop.web-1"
    )
    assert isinstance(found, assign.AwsRole) and found.name == "reader"


def test_no_annotation_and_no_default_is_no_identity():
    assert assign.aws(pod(), PERMIT_ALL, aws_settings()) is None


def test_the_default_role_applies_to_pods_without_annotation():
    found = assign.aws(pod(), PERMIT_ALL, aws_settings(base_role_arn=BASE, default_role="basic"))
    assert isinstance(found, assign.AwsRole) and found.arn == BASE + "basic"


def test_a_namespace_without_annotations_permits_nothing():
    found = assign.aws(pod({keys.AWS_ROLE: BASE + "reader"}), {}, aws_settings())
    assert found == assign.Refusal(
        "IdentityNotPermitted",
        f"namespace has no {keys.AWS_ALLOWED_ROLES} or {keys.AWS_PERMITTED} annotation, "
        "so no role is permitted",
    )


def test_an_unknown_namespace_permits_nothing():
    found = assign.aws(pod({keys.AWS_ROLE: BASE + "reader"}), None, aws_settings())
    assert found == assign.Refusal(
        "IdentityNotPermitted", "the pod's namespace is not known (yet)", report=False
    )


def test_the_restriction_can_be_switched_off():
    found = assign.aws(
        pod({keys.AWS_ROLE: BASE + "reader"}), None, aws_settings(restrict_namespaces=False)
    )
    assert isinstance(found, assign.AwsRole)


@pytest.mark.parametrize(
    ("namespace", "permitted"),
    [
        ({keys.AWS_ALLOWED_ROLES: '["reader"]'}, True),
        ({keys.AWS_ALLOWED_ROLES: '["read*"]'}, True),
        ({keys.AWS_ALLOWED_ROLES: '["writer"]'}, False),
        ({keys.AWS_PERMITTED: "read.*"}, True),
        ({keys.AWS_PERMITTED: "ead"}, False),  # anchored, unlike kiam
        ({keys.AWS_ALLOWED_ROLES: "not json"}, False),
    ],
)
def test_namespace_annotations(namespace, permitted):
    found = assign.aws(pod({keys.AWS_ROLE: "reader"}), namespace, aws_settings(base_role_arn=BASE))
    assert isinstance(found, assign.AwsRole) is permitted


def test_a_role_that_is_not_an_arn_without_a_base_is_refused():
    found = assign.aws(pod({keys.AWS_ROLE: "reader"}), PERMIT_ALL, aws_settings())
    assert found == assign.Refusal(
        "InvalidIdentity", "role 'reader' is not a full role ARN and no base ARN is set"
    )


def test_session_names_are_valid_for_sts_and_distinct():
    long_ns, long_pod = "n" * 63, "p" * 253
    names = {
        assign.session_name(long_ns, long_pod),
        assign.session_name(long_ns, long_pod[:-1] + "q"),
        assign.session_name("a", "b"),
        assign.session_name("ns", "pod:with/odd*chars"),
    }
    assert len(names) == 4
    assert all(STS_NAME.match(n) for n in names), names
    assert assign.session_name("ns", "pod:with/odd*chars") == "ns.pod-with-odd-chars"


def test_role_scoped_sessions_share_one_name_per_role():
    settings = aws_settings(base_role_arn=BASE, session_scope="role")
    a = assign.aws(pod({keys.AWS_ROLE: "reader"}, name="a"), PERMIT_ALL, settings)
    b = assign.aws(pod({keys.AWS_ROLE: "reader"}, name="b"), PERMIT_ALL, settings)
    assert a == b
    assert isinstance(a, assign.AwsRole) and STS_NAME.match(a.session_name)


def test_session_tags_name_the_pod():
    settings = aws_settings(base_role_arn=BASE, session_tags=True)
    found = assign.aws(pod({keys.AWS_ROLE: "reader"}), PERMIT_ALL, settings)
    assert isinstance(found, assign.AwsRole)
    assert found.tags == (
        ("kubernetes-namespace", "shop"),
        ("kubernetes-pod", "web-1"),
        ("kubernetes-service-account", "shop-sa"),
    )


def test_gcp_and_azure_annotations():
    gsa = "reader@proj-1.iam.gserviceaccount.com"
    permit = {keys.GCP_ALLOWED_SERVICE_ACCOUNTS: '["*@proj-1.iam.gserviceaccount.com"]'}
    settings = IdentitySettings(provider=ProviderName.GCE)
    assert assign.gcp(pod({keys.GCP_SERVICE_ACCOUNT: gsa}), permit, settings) == assign.GcpAccount(
        gsa
    )
    assert isinstance(
        assign.gcp(pod({keys.GCP_SERVICE_ACCOUNT: gsa}), {}, settings), assign.Refusal
    )
    assert assign.gcp(pod(), permit, settings) is None
    client = "33333333-0000-0000-0000-00000000E002"
    az_permit = {keys.AZURE_ALLOWED_CLIENT_IDS: '["33333333-*"]'}
    az = IdentitySettings(provider=ProviderName.AZURE)
    assert assign.azure(pod({keys.AZURE_CLIENT_ID: client}), az_permit, az) == assign.AzureClient(
        client.lower()
    )
    assert assign.azure(pod({keys.AZURE_CLIENT_ID: "nope"}), az_permit, az) == assign.Refusal(
        "InvalidIdentity", "'nope' is not a client ID (a GUID)"
    )


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"session_duration": 900}, "session_duration: 900s is outside 1200s-43200s"),
        ({"base_role_arn": "arn:aws:iam::1:role/"}, "base_role_arn: 'arn:aws:iam::1:role/'"),
        ({"session_tags": True, "session_scope": "role"}, "session_tags: tags name a pod"),
        ({"address_wait": 60}, "address_wait: 60s is outside 0-30s"),
    ],
)
def test_settings_errors_name_the_option(kw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        aws_settings(**kw)


def test_durations():
    assert parse_duration("1h", key="x") == 3600
    assert parse_duration("45m", key="x") == 2700
    assert parse_duration("90", key="x") == 90
    with pytest.raises(ConfigError, match=re.escape("x: 'soon' is not a duration")):
        parse_duration("soon", key="x")
