"""Role values and namespace patterns (issue 9, findings 7, 14 and 15).

Each refusal is paired with the allow that proves the same path permits.
"""

from __future__ import annotations

import pytest

from podwarden.api import iamroles, keys, rolepolicy
from podwarden.config import ConfigError
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.model import ProviderName

BASE = "arn:aws:iam::123456789012:role/"
OTHER_ACCOUNT = "arn:aws:iam::999999999999:role/"


def globs(*patterns: str) -> dict[str, str]:
    return {keys.AWS_ALLOWED_ROLES: "[" + ", ".join(f'"{p}"' for p in patterns) + "]"}


def regex(pattern: str) -> dict[str, str]:
    return {keys.AWS_PERMITTED: pattern}


CASES = [
    # (role, namespace annotations, base, permitted, reason fragment)
    # Finding 7: traversal and other values that name no IAM role.
    ("team-x", globs("team-*"), BASE, True, "matches 'team-*'"),
    ("team-x/../../admin", globs("team-*"), BASE, False, "dot segment '..'"),
    ("team-x/../../admin", regex("team-.*"), BASE, False, "dot segment '..'"),
    ("team-x/../../admin", globs("**"), BASE, False, "dot segment '..'"),
    (f"{BASE}team-x/../admin", globs("*"), None, False, "dot segment '..'"),
    ("team-x/./admin", globs("team-**"), BASE, False, "dot segment '.'"),
    ("team-x//admin", globs("team-**"), BASE, False, "empty path segment"),
    ("team-x/", globs("team-**"), BASE, False, "empty path segment"),
    ("team x", globs("team*"), BASE, False, "has the character ' '"),
    ("team-*", globs("team-*"), BASE, False, "has the character '*'"),
    ("team-é", globs("team-*"), BASE, False, "has the character 'é'"),
    ("a" * 65, globs("*"), BASE, False, "at most 64 characters"),
    # ... and `*` stays within a segment; `**` crosses `/`.
    ("team-x/admin", globs("team-*"), BASE, False, "is not permitted"),
    ("team-x/admin", globs("team-*/*"), BASE, True, "matches 'team-*/*'"),
    ("team-x/admin", globs("team-**"), BASE, True, "matches 'team-**'"),
    ("teams/a/b/reader", globs("teams/**"), BASE, True, "matches 'teams/**'"),
    ("teams/a/b/reader", globs("teams/*"), BASE, False, "is not permitted"),
    ("team-x/admin", globs("team-?/admin"), BASE, True, "matches"),
    # Finding 15: names are completed on both sides, for globs and the regex.
    ("explicit-role", regex("explicit-role"), BASE, True, "matches iam.amazonaws.com/permitted"),
    (f"{BASE}explicit-role", regex("explicit-role"), BASE, True, "matches"),
    (f"{BASE}explicit-role", globs("explicit-role"), BASE, True, "matches"),
    ("explicit-role", regex(f"{BASE}explicit-role"), BASE, True, "matches"),
    ("explicit-role", globs(f"{BASE}explicit-role"), BASE, True, "matches"),
    (f"{OTHER_ACCOUNT}explicit-role", regex("explicit-role"), BASE, False, "is not permitted"),
    (f"{OTHER_ACCOUNT}explicit-role", globs("explicit-role"), BASE, False, "is not permitted"),
    (f"{BASE}explicit-role", globs("explicit-role"), None, True, "matches"),
    (f"{BASE}explicit-role", regex("explicit-role"), None, True, "matches"),
    ("explicit-role", globs("explicit-role"), None, True, "matches"),
    (f"{BASE}other-role", globs("explicit-role"), None, False, "is not permitted"),
    (f"{BASE}reader", globs("*"), None, True, "matches '*'"),  # kube2iam's allow-all
    # Finding 14: paths in the base and IAM's whole name alphabet.
    ("reader", globs("reader"), BASE + "path/", True, "matches"),
    (f"{BASE}path/reader", globs("reader"), BASE + "path/", True, "matches"),
    (f"{BASE}reader", globs("reader"), BASE + "path/", False, "is not permitted"),
    ("svc.role_a+b=c,d@e-f", globs("svc.*"), BASE, True, "matches"),
    ("team-a,x", globs("team-a,x"), BASE, True, "matches"),
]


@pytest.mark.parametrize(("role", "ns", "base", "permitted", "fragment"), CASES)
def test_role_permitted(role, ns, base, permitted, fragment):
    got, reason = rolepolicy.role_permitted("aws", role, ns, base_role_arn=base)
    assert (got, fragment in reason) == (permitted, True), reason


@pytest.mark.parametrize(
    ("value", "base", "arn"),
    [
        ("reader", BASE, BASE + "reader"),
        ("/reader", BASE, BASE + "reader"),
        ("team/reader", BASE + "path/", BASE + "path/team/reader"),
        ("svc.role_a+b=c,d@e-f", BASE, BASE + "svc.role_a+b=c,d@e-f"),
        ("arn:aws-cn:iam::123456789012:role/p/q", None, "arn:aws-cn:iam::123456789012:role/p/q"),
    ],
)
def test_values_resolve_to_one_arn(value, base, arn):
    assert iamroles.resolve(value, base).arn == arn


@pytest.mark.parametrize(
    ("base", "message"),
    [
        (BASE + "path/", None),
        (BASE + "path", None),  # the trailing slash is added
        (BASE + "a/b.c/", None),
        (BASE + "../", "dot segment '..'"),
        (BASE + "a//", "empty path segment"),
        (BASE + "a b/", "has the character ' '"),
        ("arn:aws:iam::1234:role/", "is not a role ARN prefix"),
        ("arn:aws:s3:::bucket/", "is not a role ARN prefix"),
    ],
)
def test_base_role_arn_with_a_path_is_accepted(base, message):
    if message is None:
        settings = IdentitySettings(provider=ProviderName.AWS, base_role_arn=base)
        assert settings.base_role_arn == base.rstrip("/") + "/"
    else:
        with pytest.raises(ConfigError, match=rf"base_role_arn: .*{message}"):
            IdentitySettings(provider=ProviderName.AWS, base_role_arn=base)


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("team-*", "team-a", True),
        ("team-*", "team-a/b", False),
        ("team-**", "team-a/b", True),
        ("*", "", True),
        ("a?c", "a/c", False),
        ("a.c", "abc", False),  # regex characters are literal in a glob
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
    ],
)
def test_role_globs(pattern, subject, matches):
    assert bool(rolepolicy.role_glob(pattern).fullmatch(subject)) is matches
