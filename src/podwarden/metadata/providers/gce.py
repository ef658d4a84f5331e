"""GCE / GKE metadata server: strict preset, concealment, and the server's refusals.

Wording sources:
- "Missing Metadata-Flavor:Google header." (403): the GCE metadata server's
  message, also used by Google's own metadata emulators;
- "This metadata endpoint is concealed." and "... concealed for ?recursive
  calls." (403): GKE metadata concealment (GoogleCloudPlatform/k8s-metadata-proxy);
- "Calls with X-Forwarded-For header are not allowed by the metadata proxy."
  and "This metadata API is not allowed by the metadata proxy." (403): the
  same proxy's answers for XFF and for legacy API versions;
- unknown paths: 404 as the server answers them (google-auth relies on 404,
  e.g. for `universe/universe-domain`, meaning "use the default").

Beyond GKE concealment, the node service account's token is concealed too,
attributes are allow-listed (`gce_attributes.py`), and `recursive` is only
honoured under `service-accounts/<sa>/` (cut down to email, aliases and
scopes) and `attributes/` (cut down to the allowed attributes); `recursive`
and `wait_for_change` are read in any case, as the server reads them.
Directories asked without their trailing slash (`/computeMetadata`,
`/computeMetadata/v1`, ...) get the server's own `301` to the slash form:
Location is the absolute URL on the Host the client asked for (query kept),
the body that path and a newline (observed answers quoted in
salrashid123/gce_metadata_server#3 and googleapis/gax-dotnet#410), and
clients follow it.
"""

from __future__ import annotations

import re

from podwarden.metadata.model import CanonicalRequest, ProviderName, Respond
from podwarden.metadata.policy import ANY_VALUE, Responses, Rule, RuleAction
from podwarden.metadata.providers import IMMUTABLE_TTL, Options, Profile, allower, refusal
from podwarden.metadata.providers.gce_attributes import (
    GKE_ATTRIBUTES,
    json_subset,
    listing_filter,
    recursive_filter,
)
from podwarden.metadata.request import Syntax, encode_target

FLAVOR = ("Metadata-Flavor", "Google")
ROOT = "/computeMetadata/v1"
TEXT = "text/plain; charset=utf-8"
MISSING_FLAVOR = "Missing Metadata-Flavor:Google header.\n"
CONCEALED = "This metadata endpoint is concealed.\n"
CONCEALED_RECURSIVE = "This metadata endpoint is concealed for ?recursive calls.\n"
FORWARDED = "Calls with X-Forwarded-For header are not allowed by the metadata proxy.\n"
LEGACY = "This metadata API is not allowed by the metadata proxy.\n"
NOT_FOUND = "The requested URL was not found on this server.\n"
# Directories the proxy redirects to their slash form itself, as the server does.
DIRECTORIES = frozenset(
    {
        "/computeMetadata",
        ROOT,
        ROOT + "/instance",
        ROOT + "/project",
        ROOT + "/instance/attributes",
        ROOT + "/project/attributes",
        ROOT + "/instance/service-accounts",
    }
)
BOOLEAN_QUERY_KEYS = frozenset({"recursive", "wait_for_change"})
_AUTHORITY = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
SERVICE_ACCOUNT_FIELDS = ("email", "aliases", "scopes")
QUERY_KEYS = frozenset(
    {
        "alt",
        "recursive",
        "wait_for_change",
        "last_etag",
        "timeout_sec",
        "audience",
        "format",
        "licenses",
        "scopes",
    }
)


def protocol(req: CanonicalRequest, options: Options) -> Respond | None:
    """The server's own checks: XFF, legacy API versions, the flavor header."""
    if "x-forwarded-for" in req.headers:
        return refusal("gce.forwarded", 403, FORWARDED, content_type=TEXT)
    lowered = req.path.lower()
    if lowered in ("/0.1", "/0.1/") or lowered.startswith(("/0.1/", "/computemetadata/v1beta1")):
        return refusal("gce.legacy", 403, LEGACY, content_type=TEXT)
    if lowered.startswith("/computemetadata") and req.headers.get("metadata-flavor") != "Google":
        return refusal("gce.flavor", 403, MISSING_FLAVOR, content_type=TEXT)
    if req.path in DIRECTORIES:
        return moved(req)
    return None


def moved(req: CanonicalRequest) -> Respond:
    """The server's 301 from a directory to its slash form (absolute on the asked Host)."""
    path = req.path + "/"
    host = req.headers.get("host", "")
    target = encode_target(path, req.query)
    location = f"http://{host}{target}" if _AUTHORITY.fullmatch(host) else target
    return Respond(
        rule_id="gce.directory",
        status=301,
        body=f"{path}\n".encode(),
        content_type="text/html",
        response_headers=(("Location", location),),
    )


def service_account_summary(body: bytes) -> bytes:
    """Keep only email, aliases and scopes of a recursive service-account answer.

    Anything unreadable becomes `{}`: a document we cannot inspect is not passed on.
    """
    return json_subset(body, SERVICE_ACCOUNT_FIELDS)


def _allow(rule_id: str, path: str, *, ttl: float = 0.0) -> Rule:
    return Rule(id=rule_id, action=RuleAction.ALLOW, path=ROOT + path, cache_ttl=ttl)


def _conceal(rule_id: str, path: str) -> Rule:
    return Rule(id=rule_id, action=RuleAction.CONCEAL, path=ROOT + path)


def _attribute_rules(scope: str, allowed: tuple[str, ...]) -> tuple[Rule, ...]:
    """The allowed attributes of `scope`, its filtered listings, and everything else concealed."""
    directory = f"{ROOT}/{scope}/attributes/"
    recursive = recursive_filter(allowed)
    listing = listing_filter(allowed)
    return (
        *(
            Rule(
                id="gce.attributes",
                action=RuleAction.ALLOW,
                path=directory,
                query={"recursive": "true", "alt": alt},
                transform=recursive,
            )
            for alt in (None, "json")
        ),
        *(
            Rule(
                id="gce.attributes",
                action=RuleAction.ALLOW,
                path=directory,
                query={"recursive": None, "alt": alt},
                transform=listing,
            )
            for alt in (None, "text")
        ),
        *(_allow("gce.attributes", f"/{scope}/attributes/{name}") for name in allowed),
        _conceal("gce.concealed-attribute", f"/{scope}/attributes/**"),
    )


def preset(options: Options) -> tuple[Rule, ...]:
    """Strict preset: concealment first (any query), recursion, then the allow-lists."""
    hidden = set(options.concealed_attributes)
    concealed = tuple(
        _conceal("gce.concealed-attribute", f"/{scope}/attributes/{name}/**")
        for name in dict.fromkeys(options.concealed_attributes)
        for scope in ("instance", "project")
    )
    instance = tuple(
        name
        for name in dict.fromkeys(GKE_ATTRIBUTES + options.allowed_attributes)
        if name not in hidden
    )
    project = tuple(
        name for name in dict.fromkeys(options.allowed_project_attributes) if name not in hidden
    )
    return (
        *concealed,
        _conceal("gce.identity", "/instance/service-accounts/*/identity*/**"),
        _conceal("gce.token", "/instance/service-accounts/*/token*/**"),
        Rule(
            id="gce.service-account",
            action=RuleAction.ALLOW,
            path=ROOT + "/instance/service-accounts/*/",
            query={"recursive": "true"},
            transform=service_account_summary,
        ),
        *_attribute_rules("instance", instance),
        *_attribute_rules("project", project),
        Rule(
            id="gce.recursive",
            action=RuleAction.DENY,
            path="/**",  # everywhere, the root included (found by the fuzz target)
            query={"recursive": ANY_VALUE},
            status=403,
            message=CONCEALED_RECURSIVE.strip(),
        ),
        Rule(id="gce.root", action=RuleAction.ALLOW, path="/"),
        Rule(id="gce.listing", action=RuleAction.ALLOW, path="/computeMetadata/"),
        _allow("gce.listing", "/"),
        _allow("gce.listing", "/instance/"),
        _allow("gce.listing", "/project/"),
        _allow("gce.instance-id", "/instance/id", ttl=IMMUTABLE_TTL),
        _allow("gce.instance-name", "/instance/name", ttl=IMMUTABLE_TTL),
        _allow("gce.hostname", "/instance/hostname", ttl=IMMUTABLE_TTL),
        _allow("gce.zone", "/instance/zone", ttl=IMMUTABLE_TTL),
        _allow("gce.machine-type", "/instance/machine-type", ttl=IMMUTABLE_TTL),
        _allow("gce.project-id", "/project/project-id", ttl=IMMUTABLE_TTL),
        _allow("gce.project-id", "/project/numeric-project-id", ttl=IMMUTABLE_TTL),
        _allow("gce.instance", "/instance/image"),
        _allow("gce.instance", "/instance/cpu-platform"),
        _allow("gce.instance", "/instance/description"),
        _allow("gce.instance", "/instance/tags"),
        _allow("gce.instance", "/instance/preempted"),
        _allow("gce.instance", "/instance/maintenance-event"),
        _allow("gce.instance", "/instance/scheduling/**"),
        _allow("gce.instance", "/instance/network-interfaces/**"),
        _allow("gce.instance", "/instance/disks/**"),
        _allow("gce.instance", "/instance/licenses/**"),
        _allow("gce.service-accounts", "/instance/service-accounts/"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/email"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/aliases"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/scopes"),
        _allow("gce.universe", "/universe/universe-domain"),
    )


def _deny(rule: Rule) -> Respond:
    status = rule.status or 404
    message = rule.message + "\n" if rule.message else NOT_FOUND
    return refusal(rule.id, status, message, content_type=TEXT)


PROFILE = Profile(
    name=ProviderName.GCE,
    syntax=Syntax(
        provider=ProviderName.GCE, query_keys=QUERY_KEYS, boolean_query_keys=BOOLEAN_QUERY_KEYS
    ),
    always_headers=(FLAVOR,),
    forward_headers=(FLAVOR,),
    responses=Responses(
        not_found=lambda: refusal("default", 404, NOT_FOUND, content_type=TEXT),
        deny=_deny,
        conceal=lambda rule_id: refusal(rule_id, 403, CONCEALED, content_type=TEXT),
        allow=allower((FLAVOR,)),
    ),
    protocol=protocol,
    preset=preset,
    rule_path=lambda pattern: pattern,
)
