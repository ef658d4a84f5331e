"""GCE strict preset: flavor header, XFF, legacy APIs, concealment, recursive handling."""

from __future__ import annotations

import json

import pytest

from podwarden.metadata import firewall
from podwarden.metadata.model import Forward, ProviderName, Respond
from podwarden.metadata.providers import IMMUTABLE_TTL, gce
from tests.unit.metadata.conftest import FLAVOR, judge

GCE = ProviderName.GCE
V1 = "/computeMetadata/v1"
CONCEALED = b"This metadata endpoint is concealed.\n"

ALLOWED = [
    ("/", "gce.root", 0.0),
    (V1 + "/", "gce.listing", 0.0),
    (V1 + "/instance/", "gce.listing", 0.0),
    (V1 + "/instance/id", "gce.instance-id", IMMUTABLE_TTL),
    (V1 + "/instance/zone", "gce.zone", IMMUTABLE_TTL),
    (V1 + "/instance/machine-type", "gce.machine-type", IMMUTABLE_TTL),
    (V1 + "/instance/name", "gce.instance-name", IMMUTABLE_TTL),
    (V1 + "/project/project-id", "gce.project-id", IMMUTABLE_TTL),
    (V1 + "/project/numeric-project-id", "gce.project-id", IMMUTABLE_TTL),
    (V1 + "/instance/network-interfaces/0/ip", "gce.instance", 0.0),
    (V1 + "/instance/attributes/", "gce.attributes", 0.0),
    (V1 + "/instance/attributes/cluster-uid", "gce.attributes", 0.0),
    (V1 + "/instance/attributes/cluster-name", "gce.attributes", 0.0),
    (V1 + "/instance/attributes/cluster-location?alt=text", "gce.attributes", 0.0),
    (V1 + "/instance/service-accounts/", "gce.service-accounts", 0.0),
    (V1 + "/instance/service-accounts/default/", "gce.service-accounts", 0.0),
    (V1 + "/instance/service-accounts/default/email", "gce.service-accounts", 0.0),
    (V1 + "/instance/service-accounts/default/scopes", "gce.service-accounts", 0.0),
    (
        V1 + "/instance/maintenance-event?wait_for_change=true&last_etag=abc&timeout_sec=30",
        "gce.instance",
        0.0,
    ),
    (V1 + "/universe/universe-domain", "gce.universe", 0.0),
]


@pytest.mark.parametrize(("target", "rule_id", "ttl"), ALLOWED)
def test_allowed_paths_forward_with_the_flavor_header(firewalls, target, rule_id, ttl):
    _, decision = judge(firewalls[GCE], target, headers=(FLAVOR,))
    assert (type(decision), decision.rule_id, decision.cache_ttl) == (Forward, rule_id, ttl)
    assert decision.upstream_target == target
    assert decision.forward_headers == (("Metadata-Flavor", "Google"),)


def test_every_answer_carries_the_flavor_header(firewalls):
    assert firewalls[GCE].always_headers == (("Metadata-Flavor", "Google"),)


def test_root_needs_no_flavor_header_google_auth_detects_gce_there(firewalls):
    _, decision = judge(firewalls[GCE], "/")
    assert type(decision) is Forward


CONCEALED_PATHS = [
    (V1 + "/instance/attributes/kube-env", "gce.concealed-attribute"),
    (V1 + "/instance/attributes/kube-env?alt=json", "gce.concealed-attribute"),
    (V1 + "/instance/attributes/kube-env/", "gce.concealed-attribute"),
    (V1 + "/instance/attributes/Kube-Env", "gce.concealed-attribute"),
    (V1 + "/instance/attributes/kube-env?wait_for_change=true", "gce.concealed-attribute"),
    (V1 + "/instance/attributes/startup-script", "gce.concealed-attribute"),
    (V1 + "/project/attributes/startup-script", "gce.concealed-attribute"),
    (V1 + "/instance/service-accounts/default/token", "gce.token"),
    (V1 + "/instance/service-accounts/default/token?scopes=x", "gce.token"),
    (V1 + "/instance/service-accounts/node@p.iam.gserviceaccount.com/token", "gce.token"),
    (
        V1 + "/instance/service-accounts/default/identity?audience=https://x&format=full",
        "gce.identity",
    ),
    ("/computemetadata/V1/instance/attributes/kube-env", "gce.concealed-attribute"),
]


@pytest.mark.parametrize(("target", "rule_id"), CONCEALED_PATHS)
def test_secrets_are_concealed(firewalls, target, rule_id):
    _, decision = judge(firewalls[GCE], target, headers=(FLAVOR,))
    assert (type(decision), decision.rule_id, decision.status) == (Respond, rule_id, 403)
    assert decision.body == CONCEALED


@pytest.mark.parametrize(
    "target",
    [
        V1 + "/?recursive=true",
        V1 + "/instance/?recursive=true",
        V1 + "/instance/service-accounts/?recursive=true",
        V1 + "/project/?recursive=false",
        V1 + "/instance/service-accounts/default?recursive=true",
        "/?recursive=true",  # the root too: found by the fuzz target
        "/computeMetadata/?recursive=true",
    ],
)
def test_recursive_is_refused_outside_a_service_account(firewalls, target):
    _, decision = judge(firewalls[GCE], target, headers=(FLAVOR,))
    assert (type(decision), decision.rule_id, decision.status) == (
        Respond,
        "gce.recursive",
        403,
    )
    assert decision.body == b"This metadata endpoint is concealed for ?recursive calls.\n"


def test_recursive_service_account_answer_keeps_only_email_aliases_scopes(firewalls):
    target = V1 + "/instance/service-accounts/default/?recursive=true"
    _, decision = judge(firewalls[GCE], target, headers=(FLAVOR,))
    assert (type(decision), decision.rule_id) == (Forward, "gce.service-account")
    assert decision.transform is not None
    upstream = json.dumps(
        {
            "email": "n@p.iam",
            "aliases": ["default"],
            "scopes": ["s"],
            "token": "ya29.secret",
            "identity": "x",
        }
    ).encode()
    assert json.loads(decision.transform(upstream)) == {
        "email": "n@p.iam",
        "aliases": ["default"],
        "scopes": ["s"],
    }
    assert decision.transform(b"not json") == b"{}"
    assert decision.transform(b"[1]") == b"{}"


@pytest.mark.parametrize(
    ("target", "headers", "rule_id", "body"),
    [
        (V1 + "/instance/id", (), "gce.flavor", b"Missing Metadata-Flavor:Google header.\n"),
        (
            V1 + "/instance/id",
            (("Metadata-Flavor", "google"),),
            "gce.flavor",
            b"Missing Metadata-Flavor:Google header.\n",
        ),
        ("/computeMetadata/", (), "gce.flavor", b"Missing Metadata-Flavor:Google header.\n"),
        (
            V1 + "/instance/id",
            (FLAVOR, ("X-Forwarded-For", "1.2.3.4")),
            "gce.forwarded",
            b"Calls with X-Forwarded-For header are not allowed by the metadata proxy.\n",
        ),
        (
            "/",
            (("X-Forwarded-For", "1.2.3.4"),),
            "gce.forwarded",
            b"Calls with X-Forwarded-For header are not allowed by the metadata proxy.\n",
        ),
        (
            "/0.1/meta-data/attributes/kube-env",
            (),
            "gce.legacy",
            b"This metadata API is not allowed by the metadata proxy.\n",
        ),
        (
            "/computeMetadata/v1beta1/instance/attributes/kube-env",
            (FLAVOR,),
            "gce.legacy",
            b"This metadata API is not allowed by the metadata proxy.\n",
        ),
    ],
)
def test_protocol_refusals_are_403(firewalls, target, headers, rule_id, body):
    _, decision = judge(firewalls[GCE], target, headers=headers)
    assert (type(decision), decision.rule_id, decision.status) == (Respond, rule_id, 403)
    assert decision.body == body


@pytest.mark.parametrize(
    "target",
    [
        V1 + "/instance/guest-attributes/x",
        V1 + "/oslogin/users",
        V1 + "/instance/service-accounts/default/unknown",
        "/computeMetadata/v2/instance/id",
    ],
)
def test_unlisted_paths_are_404(firewalls, target):
    _, decision = judge(firewalls[GCE], target, headers=(FLAVOR,))
    assert (type(decision), decision.rule_id, decision.status) == (Respond, "default", 404)
    assert decision.body == gce.NOT_FOUND.encode()


def test_policy_file_conceals_extra_attributes(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("concealedAttributes: [kubelet-ca, cluster-name]\n")
    fw = firewall.build(GCE, policy_file=policy)
    for name in ("kubelet-ca", "cluster-name", "kube-env"):
        _, decision = judge(fw, f"{V1}/instance/attributes/{name}", headers=(FLAVOR,))
        assert (decision.status, decision.body) == (403, CONCEALED)
    _, decision = judge(fw, f"{V1}/instance/attributes/cluster-location", headers=(FLAVOR,))
    assert type(decision) is Forward


def test_long_polls_are_never_cached(firewalls):
    _, decision = judge(
        firewalls[GCE], V1 + "/instance/zone?wait_for_change=true", headers=(FLAVOR,)
    )
    assert (type(decision), decision.cache_ttl) == (Forward, 0.0)


# Issue 9, finding 4: attributes are an allow-list (GKE's metadata server shows pods
# cluster-name, cluster-location and cluster-uid), everything else is concealed.
CONCEALED_ATTRIBUTES = [
    "/instance/attributes/windows-startup-script-ps1",
    "/instance/attributes/windows-startup-script-cmd",
    "/instance/attributes/windows-startup-script-url",
    "/instance/attributes/windows-shutdown-script-ps1",
    "/instance/attributes/sysprep-specialize-script-ps1",
    "/instance/attributes/sysprep-specialize-script-cmd",
    "/instance/attributes/gce-container-declaration",
    "/instance/attributes/kube-env",
    "/instance/attributes/kube-labels",
    "/instance/attributes/startup-script",
    "/instance/attributes/ssh-keys",
    "/instance/attributes/user-data",
    "/instance/attributes/any-custom-key",
    "/instance/attributes/cluster-name-and-more",
    "/instance/attributes/cluster-name/x",
    "/project/attributes/ssh-keys",
    "/project/attributes/google-compute-default-region",
    "/project/attributes/cluster-name",
    "/instance/attributes/ssh-keys?wait_for_change=true",
    "/instance/attributes/ssh-keys?alt=json",
    "/instance/attributes/?alt=json",
    "/instance/attributes/?recursive=true&alt=text",
    "/instance/attributes/?recursive=false",
]


@pytest.mark.parametrize("path", CONCEALED_ATTRIBUTES)
def test_attributes_outside_the_allow_list_are_concealed(firewalls, path):
    _, decision = judge(firewalls[GCE], V1 + path, headers=(FLAVOR,))
    assert (type(decision), decision.status, decision.body) == (Respond, 403, CONCEALED)
    assert decision.rule_id == "gce.concealed-attribute"


@pytest.mark.parametrize("name", ["cluster-name", "cluster-location", "cluster-uid"])
def test_the_gke_attributes_are_served(firewalls, name):
    for query in ("", "?alt=text", "?wait_for_change=true&last_etag=x&timeout_sec=5"):
        _, decision = judge(
            firewalls[GCE], f"{V1}/instance/attributes/{name}{query}", headers=(FLAVOR,)
        )
        assert (type(decision), decision.rule_id) == (Forward, "gce.attributes")
        assert decision.transform is None


def test_attribute_listings_show_only_the_allowed_names(firewalls):
    upstream_listing = b"cluster-location\ncluster-name\ncluster-uid\nkube-env\nssh-keys\n"
    upstream_tree = json.dumps(
        {"cluster-name": "c", "kube-env": "SECRET", "windows-startup-script-ps1": "SECRET"}
    ).encode()
    for target, upstream, expected in (
        (
            "/instance/attributes/",
            upstream_listing,
            b"cluster-location\ncluster-name\ncluster-uid\n",
        ),
        (
            "/instance/attributes/?alt=text",
            upstream_listing,
            b"cluster-location\ncluster-name\ncluster-uid\n",
        ),
        ("/instance/attributes/?recursive=true", upstream_tree, b'{"cluster-name":"c"}'),
        ("/instance/attributes/?recursive=True&alt=json", upstream_tree, b'{"cluster-name":"c"}'),
        ("/project/attributes/", b"ssh-keys\nregion\n", b""),
        ("/project/attributes/?recursive=true", b'{"ssh-keys": "SECRET"}', b"{}"),
    ):
        _, decision = judge(firewalls[GCE], V1 + target, headers=(FLAVOR,))
        assert (type(decision), decision.rule_id) == (Forward, "gce.attributes"), target
        assert decision.transform is not None
        assert decision.transform(upstream) == expected, target
        assert decision.transform(b"not json, not a name") in (b"{}", b"")


def test_a_policy_file_extends_the_allow_lists_and_concealment_wins(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "allowedAttributes: [team-config, kube-env]\n"
        "allowedProjectAttributes: [team-region]\n"
        "concealedAttributes: [kube-env, cluster-uid]\n"
    )
    fw = firewall.build(GCE, policy_file=policy)
    for path, allowed in (
        ("/instance/attributes/team-config", True),
        ("/instance/attributes/cluster-name", True),
        ("/project/attributes/team-region", True),
        ("/instance/attributes/kube-env", False),
        ("/instance/attributes/cluster-uid", False),
        ("/instance/attributes/team-region", False),
        ("/project/attributes/team-config", False),
    ):
        _, decision = judge(fw, V1 + path, headers=(FLAVOR,))
        assert (type(decision) is Forward) is allowed, path
    _, decision = judge(fw, V1 + "/instance/attributes/?recursive=true", headers=(FLAVOR,))
    assert decision.transform is not None
    tree = json.dumps({"team-config": 1, "kube-env": 2, "cluster-uid": 3, "cluster-name": 4})
    assert json.loads(decision.transform(tree.encode())) == {"team-config": 1, "cluster-name": 4}


# Issue 9, finding 12: directories without their slash get the server's 301.
@pytest.mark.parametrize(
    ("target", "host", "location"),
    [
        (
            "/computeMetadata",
            "metadata.google.internal",
            "http://metadata.google.internal/computeMetadata/",
        ),
        (V1, "169.254.169.254", f"http://169.254.169.254{V1}/"),
        (V1 + "?recursive=true", "169.254.169.254", f"http://169.254.169.254{V1}/?recursive=true"),
        (
            V1 + "/instance",
            "metadata.google.internal.",
            f"http://metadata.google.internal.{V1}/instance/",
        ),
        (
            V1 + "/instance/attributes",
            "127.0.0.1:8080",
            f"http://127.0.0.1:8080{V1}/instance/attributes/",
        ),
        (V1, None, f"{V1}/"),  # no Host (HTTP/1.0): a relative Location
        (V1, "evil host/x", f"{V1}/"),  # not an authority: never echoed
    ],
)
def test_directories_without_their_slash_are_redirected(firewalls, target, host, location):
    headers = (FLAVOR,) if host is None else (FLAVOR, ("Host", host))
    _, decision = judge(firewalls[GCE], target, headers=headers)
    assert (type(decision), decision.rule_id, decision.status) == (
        Respond,
        "gce.directory",
        301,
    )
    assert decision.response_headers == (("Location", location),)
    assert decision.body == (target.partition("?")[0] + "/\n").encode()


def test_the_redirect_still_needs_the_flavor_header(firewalls):
    _, decision = judge(firewalls[GCE], V1, headers=(("Host", "x"),))
    assert (decision.rule_id, decision.status) == ("gce.flavor", 403)


# Issue 9, finding 13: `recursive` (and `wait_for_change`) are read in any case.
@pytest.mark.parametrize("spelling", ["true", "True", "TRUE", "tRuE"])
def test_recursive_service_account_accepts_any_case(firewalls, spelling):
    target = f"{V1}/instance/service-accounts/default/?recursive={spelling}"
    _, decision = judge(firewalls[GCE], target, headers=(FLAVOR,))
    assert (type(decision), decision.rule_id) == (Forward, "gce.service-account")
    assert decision.upstream_target == f"{V1}/instance/service-accounts/default/?recursive=true"


@pytest.mark.parametrize("spelling", ["True", "TRUE", "1", "yes"])
def test_other_recursive_spellings_elsewhere_stay_refused(firewalls, spelling):
    _, decision = judge(firewalls[GCE], f"{V1}/instance/?recursive={spelling}", headers=(FLAVOR,))
    assert (type(decision), decision.rule_id) == (Respond, "gce.recursive")


@pytest.mark.parametrize(
    ("value", "long_poll"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("False", False)],
)
def test_wait_for_change_spellings_are_long_polls_unless_false(firewalls, value, long_poll):
    target = f"{V1}/instance/maintenance-event?wait_for_change={value}"
    _, decision = judge(firewalls[GCE], target, headers=(FLAVOR,))
    assert (type(decision), decision.long_poll, decision.cache_ttl) == (
        Forward,
        long_poll,
        0.0,
    )
