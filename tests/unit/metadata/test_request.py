"""Canonicalisation: every non-canonical spelling is refused with 400 and an exact reason."""

from __future__ import annotations

import pytest

from podwarden.metadata import request
from podwarden.metadata.model import ProviderName, RequestRejected, Respond
from podwarden.metadata.providers import aws, azure, gce
from tests.unit.metadata.conftest import AZURE, FLAVOR, judge, raw

GCE = ProviderName.GCE

REFUSALS = [
    # (target, method, headers, body, reason)
    (
        "/computeMetadata/v1/instance%2fattributes/kube-env",
        "GET",
        (),
        b"",
        "percent-encoded '/' in path",
    ),
    (
        "/computeMetadata/v1/instance/attributes/%2E%2E/x",
        "GET",
        (),
        b"",
        "percent-encoded '.' in path",
    ),
    ("/computeMetadata/v1/instance/%5cattributes", "GET", (), b"", "percent-encoded '\\' in path"),
    ("/computeMetadata/v1/instance/%00", "GET", (), b"", "percent-encoded NUL in path"),
    ("/computeMetadata/v1/instance/%256b", "GET", (), b"", "percent-encoded '%' in path"),
    (
        "/computeMetadata/v1/instance/%0a",
        "GET",
        (),
        b"",
        "percent-encoded control character in path",
    ),
    (
        "/computeMetadata/v1/instance/%c3%a9",
        "GET",
        (),
        b"",
        "percent-encoded non-ASCII byte in path",
    ),
    ("/computeMetadata/v1/instance/%zz", "GET", (), b"", "malformed percent-escape in path"),
    ("/computeMetadata/v1/instance/%4", "GET", (), b"", "malformed percent-escape in path"),
    ("/computeMetadata/v1\\instance", "GET", (), b"", "backslash in path"),
    ("/computeMetadata/v1/./instance", "GET", (), b"", "dot segment '.' in path"),
    ("/computeMetadata/v1/../v1/instance", "GET", (), b"", "dot segment '..' in path"),
    ("/computeMetadata//v1/instance", "GET", (), b"", "empty path segment ('//')"),
    (
        "/computeMetadata/v1/instance/attributes/kube-env.",
        "GET",
        (),
        b"",
        "path segment 'kube-env.' ends with a dot",
    ),
    ("/computeMetadata/v1/instance;x=1", "GET", (), b"", "character ';' not allowed in path"),
    ("/computeMetadata/v1/instance/%20", "GET", (), b"", "character ' ' not allowed in path"),
    (
        "/computeMetadata/v1/\x01",
        "GET",
        (),
        b"",
        "control character or space '\\x01' in request target",
    ),
    ("/computeMetadata/v1/ x", "GET", (), b"", "control character or space ' ' in request target"),
    ("/computeMetadata/v1/ké", "GET", (), b"", "non-ASCII character 'é' in request target"),
    (
        "/computeMetadata/v1/\uff0fx",
        "GET",
        (),
        b"",
        "non-ASCII character '\uff0f' in request target",
    ),
    (
        "http://169.254.169.254/computeMetadata/v1/",
        "GET",
        (),
        b"",
        "absolute-form request target (send origin-form: /path?query)",
    ),
    ("*", "GET", (), b"", "request target must start with '/'"),
    ("", "GET", (), b"", "empty request target"),
    ("/computeMetadata/v1/#frag", "GET", (), b"", "fragment in request target"),
    (
        "/computeMetadata/v1/",
        "BREW",
        (),
        b"",
        "unknown method BREW (accepted: GET, HEAD, PUT, POST, DELETE, OPTIONS, PATCH)",
    ),
    (
        "/computeMetadata/v1/",
        "get",
        (),
        b"",
        "unknown method get (accepted: GET, HEAD, PUT, POST, DELETE, OPTIONS, PATCH)",
    ),
    ("/computeMetadata/v1/", "GET", (), b"x", "a GET request must not carry a body"),
    (
        "/computeMetadata/v1/",
        "HEAD",
        (("Content-Length", "3"),),
        b"",
        "a HEAD request must not carry a body",
    ),
    (
        "/computeMetadata/v1/",
        "GET",
        (("Transfer-Encoding", "chunked"),),
        b"",
        "a GET request must not carry a body",
    ),
    ("/computeMetadata/v1/", "POST", (), b"abc", "body too large (3 bytes, limit 0)"),
    (
        "/computeMetadata/v1/?recursive=true&recursive=false",
        "GET",
        (),
        b"",
        "duplicate query parameter 'recursive'",
    ),
    ("/computeMetadata/v1/?", "GET", (), b"", "empty query ('?' with nothing after it)"),
    (
        "/computeMetadata/v1/?alt=json&&recursive=true",
        "GET",
        (),
        b"",
        "empty query parameter ('&&' or a trailing '&')",
    ),
    (
        "/computeMetadata/v1/?alt=json&",
        "GET",
        (),
        b"",
        "empty query parameter ('&&' or a trailing '&')",
    ),
    (
        "/computeMetadata/v1/?foo=1",
        "GET",
        (),
        b"",
        "query parameter 'foo' is not accepted for gce (accepted: alt, audience, format, "
        "last_etag, licenses, recursive, scopes, timeout_sec, wait_for_change)",
    ),
    (
        "/computeMetadata/v1/?alt=%00",
        "GET",
        (),
        b"",
        "percent-encoded control or non-ASCII byte in query value",
    ),
    ("/computeMetadata/v1/?alt=%g0", "GET", (), b"", "malformed percent-escape in query value"),
    ("/computeMetadata/v1/?re%2ecursive=true", "GET", (), b"", "percent-encoded '.' in query key"),
    (
        "/computeMetadata/v1/",
        "GET",
        (("Metadata-Flavor", "Google"), ("metadata-flavor", "Google")),
        b"",
        "duplicate header metadata-flavor",
    ),
    ("/computeMetadata/v1/", "GET", (("Bad Name", "x"),), b"", "invalid header name 'Bad Name'"),
    (
        "/computeMetadata/v1/",
        "GET",
        (("X-Thing", "a\r\nInjected: 1"),),
        b"",
        "control character in header X-Thing",
    ),
]


@pytest.mark.parametrize(("target", "method", "headers", "body", "reason"), REFUSALS)
def test_non_canonical_requests_are_refused_with_a_reason(
    firewalls, target, method, headers, body, reason
):
    canonical, decision = judge(
        firewalls[GCE], target, method=method, headers=(FLAVOR, *headers), body=body
    )
    assert canonical is None
    assert (type(decision), decision.rule_id, decision.status) == (Respond, "canonical", 400)
    assert decision.body == (reason + "\n").encode()
    assert decision.content_type.startswith("text/plain")


def test_limits_are_enforced_before_parsing():
    limits = request.Limits(max_target_bytes=30, max_header_bytes=40, max_headers=2)
    syntax = gce.PROFILE.syntax

    def reason(**kwargs) -> str:
        with pytest.raises(RequestRejected) as caught:
            request.canonicalise(raw(**kwargs), syntax=syntax, limits=limits)
        assert caught.value.status == 400
        return caught.value.reason

    assert reason(target="/" + "a" * 30) == "request target too long (31 bytes, limit 30)"
    assert reason(target="/", headers=(("A", "1"),) * 3) == "too many headers (3, limit 2)"
    assert (
        reason(target="/", headers=(("A", "x" * 40),)) == "headers too large (45 bytes, limit 40)"
    )


def test_aws_refuses_every_query_parameter(firewalls):
    _, decision = judge(firewalls[ProviderName.AWS], "/latest/meta-data/instance-id?x=1")
    assert decision.body == b"query parameter 'x' is not accepted for aws (accepted: none)\n"


@pytest.mark.parametrize(
    ("target", "path", "tree_path"),
    [
        (
            "/latest/meta-data/instance-id",
            "/latest/meta-data/instance-id",
            "/meta-data/instance-id",
        ),
        ("/2009-04-04/meta-data/iam/info", "/2009-04-04/meta-data/iam/info", "/meta-data/iam/info"),
        ("/1.0/meta-data/", "/1.0/meta-data/", "/meta-data/"),
        ("/latest", "/latest", "/"),
        ("/latest/", "/latest/", "/"),
        ("/", "/", ""),
        ("/LATEST/meta-data/iam/info", "/LATEST/meta-data/iam/info", ""),
        (
            "/latest/meta-data/%69nstance-id",
            "/latest/meta-data/instance-id",
            "/meta-data/instance-id",
        ),
    ],
)
def test_aws_versions_are_one_tree(target, path, tree_path):
    canonical = request.canonicalise(
        raw(target), syntax=aws.PROFILE.syntax, limits=request.Limits()
    )
    assert (canonical.path, canonical.tree_path) == (path, tree_path)


def test_azure_paths_and_query_keys_are_matched_lower_case():
    target = "/Metadata/Instance/Compute/vmId?API-Version=2021-02-01&format=text"
    canonical = request.canonicalise(
        raw(target, headers=(AZURE,)), syntax=azure.PROFILE.syntax, limits=request.Limits()
    )
    assert canonical.path == "/Metadata/Instance/Compute/vmId"
    assert canonical.tree_path == "/metadata/instance/compute/vmid"
    assert canonical.query == (("api-version", "2021-02-01"), ("format", "text"))
    assert canonical.segments == ("Metadata", "Instance", "Compute", "vmId")


def test_azure_duplicate_query_keys_in_different_case_are_refused():
    with pytest.raises(RequestRejected, match="duplicate query parameter 'api-version'"):
        request.canonicalise(
            raw("/metadata/instance?api-version=1&API-VERSION=2"),
            syntax=azure.PROFILE.syntax,
            limits=request.Limits(),
        )


def test_query_values_are_decoded_and_re_encoded_for_upstream():
    target = (
        "/computeMetadata/v1/instance/service-accounts/default/identity"
        "?audience=https%3A%2F%2Fx.example%2Fa&format=full"
    )
    canonical = request.canonicalise(
        raw(target), syntax=gce.PROFILE.syntax, limits=request.Limits()
    )
    assert canonical.query_value("audience") == "https://x.example/a"
    assert request.encode_target(canonical.path, canonical.query) == target


def test_headers_are_lower_cased_and_trimmed():
    canonical = request.canonicalise(
        raw("/", headers=(("Metadata-Flavor", " Google "),)),
        syntax=gce.PROFILE.syntax,
        limits=request.Limits(),
    )
    assert dict(canonical.headers) == {"metadata-flavor": "Google"}


def test_header_name_with_a_trailing_newline_is_refused(firewalls):
    _, decision = judge(firewalls[GCE], "/", headers=(("Metadata-Flavor\n", "Google"),))
    assert decision.body == b"invalid header name 'Metadata-Flavor\\n'\n"
