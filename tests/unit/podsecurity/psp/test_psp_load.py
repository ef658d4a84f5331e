"""Loading PodSecurityPolicy documents: accepted API versions, errors naming the key."""

from __future__ import annotations

import pytest

from conftest import policy_doc
from podwarden.podsecurity.psp import engine


@pytest.mark.parametrize(
    "api_version", ["policy/v1beta1", "extensions/v1beta1", "policy.podwarden.io/v1"]
)
def test_accepted_api_versions(api_version):
    doc = policy_doc("x")
    doc["apiVersion"] = api_version
    (policy,) = engine.load_policies([doc])
    assert (policy.name, policy.api_version) == ("x", api_version)
    assert policy.spec.allow_privilege_escalation is True  # the API server's default


def test_sorted_by_name():
    names = [p.name for p in engine.load_policies([policy_doc("b"), policy_doc("a")])]
    assert names == ["a", "b"]


def _spec(**changes):
    doc = policy_doc("bad")
    for key, value in changes.items():
        if value is None:
            doc["spec"].pop(key)
        else:
            doc["spec"][key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (
            {**policy_doc("bad"), "apiVersion": "policy/v1"},
            "PodSecurityPolicy 'bad': apiVersion: 'policy/v1' is not accepted",
        ),
        (
            {**policy_doc("bad"), "kind": "Pod"},
            "PodSecurityPolicy 'bad': kind: 'Pod' is not PodSecurityPolicy",
        ),
        (_spec(runAsUser=None), "PodSecurityPolicy 'bad': spec.runAsUser: Field required"),
        (_spec(privilegd=True), "spec.privilegd: Extra inputs are not permitted"),
        (_spec(volumes=["hostpath"]), "spec.volumes.0: Input should be"),
        (
            _spec(runAsUser={"rule": "MustRunAs"}),
            "spec.runAsUser: Value error, rule MustRunAs requires at least one range",
        ),
        (
            _spec(hostPorts=[{"min": 10, "max": 1}]),
            "spec.hostPorts.0: Value error, min (10) must not be greater than max (1)",
        ),
        (
            _spec(seLinux={"rule": "MustRunAs"}),
            "spec.seLinux: Value error, rule MustRunAs requires seLinuxOptions",
        ),
        (
            _spec(allowedCapabilities=["NET_RAW"], requiredDropCapabilities=["NET_RAW"]),
            "capability NET_RAW is listed in allowedCapabilities and requiredDropCapabilities",
        ),
        (
            _spec(defaultAllowPrivilegeEscalation=True, allowPrivilegeEscalation=False),
            "Cannot set DefaultAllowPrivilegeEscalation to true",
        ),
        (_spec(allowedHostPaths=[{"pathPrefix": "/a/../b"}]), "pathPrefix must not contain '..'"),
        (_spec(forbiddenSysctls=["a*b"]), "forbiddenSysctls: 'a*b' is not a sysctl name"),
        (_spec(allowedProcMountTypes=["Masked"]), "spec.allowedProcMountTypes.0: Input should be"),
        ("not a mapping", "document 1: expected a PodSecurityPolicy mapping"),
    ],
)
def test_rejections_name_the_key(doc, fragment):
    with pytest.raises(engine.PolicyError) as err:
        engine.load_policies([doc])
    assert fragment in str(err.value)


def test_duplicate_names():
    with pytest.raises(engine.PolicyError, match="duplicate policy name"):
        engine.load_policies([policy_doc("a"), policy_doc("a")])


def test_is_policy():
    assert engine.is_policy(policy_doc("a"))
    assert not engine.is_policy({"kind": "Role"})
