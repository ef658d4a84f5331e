"""One rule against one request: upstream's evaluation helpers (pkg/apis/rbac/v1
evaluation_helpers.go), case by case. Each helper gets cases that must match and
cases that must not, so neither "always true" nor "always false" passes."""

from __future__ import annotations

import pytest

from podwarden.rbac import Request, Rule
from podwarden.rbac import rules as r


@pytest.mark.parametrize(
    ("verbs", "verb", "expected"),
    [
        (["get"], "get", True),
        (["*"], "escalate", True),
        (["list", "get"], "get", True),
        (["get"], "GET", False),  # case-sensitive
        (["get"], "list", False),
        ([], "get", False),
        (["get"], "*", False),  # a `*` in the request is not a wildcard
    ],
)
def test_verb_matches(verbs: list[str], verb: str, expected: bool) -> None:
    assert r.verb_matches(Rule.of(verbs), verb) is expected


@pytest.mark.parametrize(
    ("groups", "group", "expected"),
    [
        ([""], "", True),  # the core group
        (["*"], "apps", True),
        (["apps", "batch"], "batch", True),
        (["apps"], "", False),
        ([""], "apps", False),
        ([], "", False),
    ],
)
def test_api_group_matches(groups: list[str], group: str, expected: bool) -> None:
    assert r.api_group_matches(Rule.of(["get"], api_groups=groups), group) is expected


@pytest.mark.parametrize(
    ("resources", "resource", "subresource", "expected"),
    [
        (["pods"], "pods", "", True),
        (["*"], "pods", "exec", True),
        (["pods/exec"], "pods", "exec", True),
        (["*/scale"], "deployments", "scale", True),
        (["pods"], "pods", "exec", False),  # the resource does not grant its subresources
        (["pods/exec"], "pods", "", False),
        (["*/scale"], "deployments", "", False),
        (["*/scale"], "deployments", "status", False),
        (["*/status"], "deployments", "scale", False),
        (["Pods"], "pods", "", False),
        (["pods/*"], "pods", "exec", False),  # no `resource/*` form upstream
    ],
)
def test_resource_matches(
    resources: list[str], resource: str, subresource: str, expected: bool
) -> None:
    rule = Rule.of(["get"], api_groups=[""], resources=resources)
    combined = f"{resource}/{subresource}" if subresource else resource
    assert r.resource_matches(rule, combined, subresource) is expected


@pytest.mark.parametrize(
    ("names", "verb", "name", "expected"),
    [
        ([], "get", "anything", True),
        ([], "list", "", True),
        (["a", "b"], "get", "b", True),
        (["a"], "get", "c", False),
        # list, watch, create and deletecollection name no object: never allowed by a
        # rule narrowed to names
        (["a"], "list", "", False),
        (["a"], "watch", "", False),
        (["a"], "create", "", False),
        (["a"], "deletecollection", "", False),
    ],
)
def test_resource_name_matches(names: list[str], verb: str, name: str, expected: bool) -> None:
    rule = Rule.of(["*"], api_groups=[""], resources=["secrets"], resource_names=names)
    assert r.resource_name_matches(rule, name) is expected
    request = Request("u", verb=verb, resource="secrets", name=name, namespace="ns")
    assert rule.allows(request) is expected


@pytest.mark.parametrize(
    ("urls", "path", "expected"),
    [
        (["*"], "/anything", True),
        (["/healthz"], "/healthz", True),
        (["/healthz/*"], "/healthz/etcd", True),
        (["/api*"], "/apis/apps", True),  # a prefix, not a path segment
        (["/logs**"], "/logs/x", True),  # every trailing `*` is removed
        (["/healthz"], "/healthz/etcd", False),
        (["/healthz/*"], "/healthz", False),
        (["/metrics"], "/Metrics", False),
        ([], "/", False),
    ],
)
def test_non_resource_url_matches(urls: list[str], path: str, expected: bool) -> None:
    rule = Rule.of(["get"], non_resource_urls=urls)
    assert r.non_resource_url_matches(rule, path) is expected
    request = Request("u", verb="get", path=path, resource_request=False)
    assert rule.allows(request) is expected


def test_a_resource_rule_never_allows_a_url_and_a_url_rule_never_a_resource() -> None:
    resources = Rule.of(["*"], api_groups=["*"], resources=["*"])
    urls = Rule.of(["*"], non_resource_urls=["*"])
    resource_request = Request("u", verb="get", resource="pods", namespace="ns")
    url_request = Request("u", verb="get", path="/healthz", resource_request=False)
    assert resources.allows(resource_request) and not resources.allows(url_request)
    assert urls.allows(url_request) and not urls.allows(resource_request)
