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

Beyond GKE concealment, the node service account's token is concealed too
(handler "gce.token" is reserved for the pod-identity work), and `recursive`
is only honoured under `service-accounts/<sa>/`, whose answer is cut down to
email, aliases and scopes.
"""

from __future__ import annotations

import json

from podwarden.metadata.model import CanonicalRequest, Decision, ProviderName
from podwarden.metadata.policy import ANY_VALUE, Responses, Rule, RuleAction
from podwarden.metadata.providers import IMMUTABLE_TTL, Options, Profile, allower, refusal
from podwarden.metadata.request import Syntax

FLAVOR = ("Metadata-Flavor", "Google")
ROOT = "/computeMetadata/v1"
TEXT = "text/plain; charset=utf-8"
MISSING_FLAVOR = "Missing Metadata-Flavor:Google header.\n"
CONCEALED = "This metadata endpoint is concealed.\n"
CONCEALED_RECURSIVE = "This metadata endpoint is concealed for ?recursive calls.\n"
FORWARDED = "Calls with X-Forwarded-For header are not allowed by the metadata proxy.\n"
LEGACY = "This metadata API is not allowed by the metadata proxy.\n"
NOT_FOUND = "The requested URL was not found on this server.\n"
# Attributes that carry credentials or scripts on GKE and GCE nodes.
DEFAULT_CONCEALED_ATTRIBUTES = (
    "kube-env",
    "user-data",
    "startup-script",
    "shutdown-script",
    "windows-startup-script-ps1",
    "sysprep-specialize-script-ps1",
)
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


def protocol(req: CanonicalRequest, options: Options) -> Decision | None:
    """The server's own checks: XFF, legacy API versions, the flavor header."""
    if "x-forwarded-for" in req.headers:
        return refusal("gce.forwarded", 403, FORWARDED, content_type=TEXT)
    lowered = req.path.lower()
    if lowered in ("/0.1", "/0.1/") or lowered.startswith(("/0.1/", "/computemetadata/v1beta1")):
        return refusal("gce.legacy", 403, LEGACY, content_type=TEXT)
    if lowered.startswith("/computemetadata") and req.headers.get("metadata-flavor") != "Google":
        return refusal("gce.flavor", 403, MISSING_FLAVOR, content_type=TEXT)
    return None


def service_account_summary(body: bytes) -> bytes:
    """Keep only email, aliases and scopes of a recursive service-account answer.

    Anything unreadable becomes `{}`: a document we cannot inspect is not passed on.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return b"{}"
    if not isinstance(document, dict):
        return b"{}"
    kept = {key: document[key] for key in SERVICE_ACCOUNT_FIELDS if key in document}
    return json.dumps(kept, separators=(",", ":")).encode()


def _allow(rule_id: str, path: str, *, ttl: float = 0.0) -> Rule:
    return Rule(id=rule_id, action=RuleAction.ALLOW, path=ROOT + path, cache_ttl=ttl)


def _conceal(rule_id: str, path: str) -> Rule:
    return Rule(id=rule_id, action=RuleAction.CONCEAL, path=ROOT + path)


def preset(options: Options) -> tuple[Rule, ...]:
    """Strict preset: concealment first (any query), then recursion, then the allowlist."""
    names = dict.fromkeys(DEFAULT_CONCEALED_ATTRIBUTES + options.concealed_attributes)
    concealed = tuple(
        _conceal("gce.concealed-attribute", f"/{scope}/attributes/{name}*/**")
        for name in names
        for scope in ("instance", "project")
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
        _allow("gce.attributes", "/instance/attributes/*"),
        _allow("gce.attributes", "/project/attributes/*"),
        _allow("gce.service-accounts", "/instance/service-accounts/"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/email"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/aliases"),
        _allow("gce.service-accounts", "/instance/service-accounts/*/scopes"),
        _allow("gce.universe", "/universe/universe-domain"),
    )


def _deny(rule: Rule) -> Decision:
    status = rule.status or 404
    message = rule.message + "\n" if rule.message else NOT_FOUND
    return refusal(rule.id, status, message, content_type=TEXT)


PROFILE = Profile(
    name=ProviderName.GCE,
    syntax=Syntax(provider=ProviderName.GCE, query_keys=QUERY_KEYS),
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
