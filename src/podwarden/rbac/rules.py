"""One RBAC PolicyRule and whether it allows one request, as upstream evaluates it.

Upstream: pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches, APIGroupMatches,
ResourceMatches, ResourceNameMatches, NonResourceURLMatches) and RuleAllows in
plugin/pkg/auth/authorizer/rbac/rbac.go. Kept as separate functions because the
conformance tables test each on its own, and because they are easy to get subtly
wrong:

- everything is case-sensitive: `GET` is not `get`, `Pods` is not `pods`;
- `*` in a rule matches anything, but a `*` in a *request* is just a string, so
  asking for verb `*` on resource `*` in group `*` is allowed only by a rule that
  grants all three wildcards (that is how a report asks "cluster-admin?");
- a resource request with a subresource is matched as `resource/subresource`, or
  by a rule resource `*/subresource`; plain `pods` does not grant `pods/status`;
- resourceNames narrow a rule to requests naming one of them; list, watch,
  create and deletecollection requests carry no name, so such a rule never allows
  them;
- a non-resource URL rule ending in `*` matches by prefix (all trailing `*`
  removed), `*` alone matches every path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

ALL = "*"


class Attributes(Protocol):
    """What an authorizer sees of a request (upstream's authorizer.Attributes).

    Any object with these attributes will do (`podwarden.rbac.Request` is one).
    """

    @property
    def user(self) -> str: ...
    @property
    def groups(self) -> Sequence[str]: ...
    @property
    def resource_request(self) -> bool: ...
    @property
    def verb(self) -> str: ...
    @property
    def api_group(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def subresource(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def path(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Request:
    """A request to authorize: a resource request unless `resource_request=False`,
    then only `verb` and `path` (a non-resource URL such as `/healthz`) count.
    `namespace=""` is a cluster-wide request."""

    user: str
    groups: tuple[str, ...] = ()
    verb: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""
    resource_request: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    """One PolicyRule; lists keep their order (upstream compares rules field by field)."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        verbs: Iterable[str],
        *,
        api_groups: Iterable[str] = (),
        resources: Iterable[str] = (),
        resource_names: Iterable[str] = (),
        non_resource_urls: Iterable[str] = (),
    ) -> Rule:
        return cls(
            tuple(verbs),
            tuple(api_groups),
            tuple(resources),
            tuple(resource_names),
            tuple(non_resource_urls),
        )

    def allows(self, request: Attributes) -> bool:
        """upstream RuleAllows."""
        if not request.resource_request:
            return verb_matches(self, request.verb) and non_resource_url_matches(self, request.path)
        combined = (
            f"{request.resource}/{request.subresource}" if request.subresource else request.resource
        )
        return (
            verb_matches(self, request.verb)
            and api_group_matches(self, request.api_group)
            and resource_matches(self, combined, request.subresource)
            and resource_name_matches(self, request.name)
        )


def verb_matches(rule: Rule, verb: str) -> bool:
    return any(v in (ALL, verb) for v in rule.verbs)


def api_group_matches(rule: Rule, group: str) -> bool:
    return any(g in (ALL, group) for g in rule.api_groups)


def resource_matches(rule: Rule, combined_resource: str, subresource: str) -> bool:
    """`combined_resource` is `resource` or `resource/subresource`."""
    for granted in rule.resources:
        if granted in (ALL, combined_resource):
            return True
        if subresource and granted == f"*/{subresource}":
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url in (ALL, path):
            return True
        if url.endswith(ALL) and path.startswith(url.rstrip(ALL)):
            return True
    return False


def rules_allow(request: Attributes, rules: Iterable[Rule]) -> bool:
    """upstream RulesAllow: any rule allows the request."""
    return any(rule.allows(request) for rule in rules)
