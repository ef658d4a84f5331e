"""AWS EC2 instance metadata (IMDS v1 and v2): strict preset and IMDS's own refusals.

Wording: IMDS answers errors with a small XHTML page whose title and heading
are "<status> - <reason>" (observed from 169.254.169.254 and reproduced by
aws/amazon-ec2-metadata-mock); refusals here use the same page so clients and
scripts that look at the body see nothing unusual.

Protocol (docs.aws.amazon.com, "Use the Instance Metadata Service to access
instance metadata"): a session token is obtained with `PUT /latest/api/token`
and `X-aws-ec2-metadata-token-ttl-seconds` between 1 and 21600 (400 otherwise);
a token PUT carrying X-Forwarded-For is refused (403); with IMDSv2 required a
GET without `X-aws-ec2-metadata-token` gets 401. Token values are checked by
the proxy, which binds them to the client address.
"""

from __future__ import annotations

from podwarden.metadata.model import CanonicalRequest, ProviderName, Respond
from podwarden.metadata.policy import Responses, Rule, RuleAction
from podwarden.metadata.providers import IMMUTABLE_TTL, Options, Profile, allower, refusal
from podwarden.metadata.request import AWS_VERSION, Syntax

TOKEN_PATH = "/latest/api/token"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
MAX_TOKEN_TTL = 21600
REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
HTML = "text/html"
TEXT = "text/plain; charset=utf-8"


def page(status: int) -> str:
    """IMDS's error page for `status`."""
    title = f"{status} - {REASONS.get(status, 'Error')}"
    return (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
        " <head>\n"
        f"  <title>{title}</title>\n"
        " </head>\n"
        " <body>\n"
        f"  <h1>{title}</h1>\n"
        " </body>\n"
        "</html>\n"
    )


def _page_decision(rule_id: str, status: int) -> Respond:
    return refusal(rule_id, status, page(status), content_type=HTML)


def _deny(rule: Rule) -> Respond:
    status = rule.status or 404
    if rule.message:
        return refusal(rule.id, status, rule.message + "\n", content_type=TEXT)
    return _page_decision(rule.id, status)


def protocol(req: CanonicalRequest, options: Options) -> Respond | None:
    """IMDS's own checks, before any rule: token PUT validation and required IMDSv2."""
    if req.method == "PUT" and req.path in (TOKEN_PATH, TOKEN_PATH + "/"):
        if "x-forwarded-for" in req.headers:
            return _page_decision("aws.token.forwarded", 403)
        ttl = req.headers.get(TTL_HEADER, "")
        if not (ttl.isascii() and ttl.isdigit() and 1 <= int(ttl) <= MAX_TOKEN_TTL):
            return _page_decision("aws.token.ttl", 400)
        return None
    if (
        options.imdsv2_required
        and req.method in ("GET", "HEAD")
        and TOKEN_HEADER not in req.headers
    ):
        return _page_decision("aws.imdsv2.required", 401)
    return None


def rule_path(pattern: str) -> str:
    """Policy files may write `/latest/...` (or a dated version); rules match the tree."""
    version, slash, rest = pattern[1:].partition("/")
    if pattern.startswith("/") and AWS_VERSION.fullmatch(version):
        return "/" + rest if slash else "/"
    return pattern


def _allow(rule_id: str, path: str, *, ttl: float = 0.0) -> Rule:
    return Rule(id=rule_id, action=RuleAction.ALLOW, path=path, cache_ttl=ttl)


def _refuse(rule_id: str, path: str) -> Rule:
    return Rule(id=rule_id, action=RuleAction.DENY, path=path)


def preset(options: Options) -> tuple[Rule, ...]:
    """Strict preset: secrets refused by name first, then the allowlist; the rest is 404.

    Refusals cover every name that starts with a secret's name (`user-data*`)
    so a suffix some server might ignore (`user-data:`) cannot step around them.
    """
    return (
        # The node's role name and keys: never a pod's. With pod identity on,
        # `identity/providers/aws.py` puts its rules in front and answers each pod with its own.
        _refuse("aws.iam", "/meta-data/iam*/**"),
        _refuse("aws.identity-credentials", "/meta-data/identity-credentials*/**"),
        _refuse("aws.user-data", "/user-data*/**"),
        _refuse("aws.identity-signature", "/dynamic/instance-identity/pkcs7*/**"),
        _refuse("aws.identity-signature", "/dynamic/instance-identity/signature*/**"),
        _refuse("aws.identity-signature", "/dynamic/instance-identity/rsa2048*/**"),
        Rule(
            id="aws.token",
            action=RuleAction.ANSWER,
            path=TOKEN_PATH,
            methods=frozenset({"PUT"}),
            handler="aws.token",
            match_full_path=True,
        ),
        Rule(id="aws.versions", action=RuleAction.ALLOW, path="/", match_full_path=True),
        _allow("aws.listing", "/"),
        _allow("aws.listing", "/meta-data/"),
        _allow("aws.listing", "/meta-data/network/"),
        _allow("aws.listing", "/dynamic/"),
        _allow("aws.listing", "/dynamic/instance-identity/"),
        _allow("aws.ami-id", "/meta-data/ami-id", ttl=IMMUTABLE_TTL),
        _allow("aws.instance-id", "/meta-data/instance-id", ttl=IMMUTABLE_TTL),
        _allow("aws.instance-type", "/meta-data/instance-type", ttl=IMMUTABLE_TTL),
        _allow("aws.placement", "/meta-data/placement/**", ttl=IMMUTABLE_TTL),
        _allow("aws.hostname", "/meta-data/hostname"),
        _allow("aws.hostname", "/meta-data/local-hostname"),
        _allow("aws.local-ipv4", "/meta-data/local-ipv4"),
        _allow("aws.mac", "/meta-data/mac"),
        _allow("aws.network", "/meta-data/network/interfaces/**"),
        _allow("aws.services", "/meta-data/services/**"),
        _allow("aws.identity-document", "/dynamic/instance-identity/document"),
    )


PROFILE = Profile(
    name=ProviderName.AWS,
    syntax=Syntax(provider=ProviderName.AWS, query_keys=frozenset(), versioned_tree=True),
    always_headers=(),
    forward_headers=(),
    responses=Responses(
        not_found=lambda: _page_decision("default", 404),
        deny=_deny,
        conceal=lambda rule_id: _page_decision(rule_id, 404),
        allow=allower(()),
    ),
    protocol=protocol,
    preset=preset,
    rule_path=rule_path,
)
