"""The RBAC authorizer over a fixed set of RBAC objects: may this user do that?

Upstream: plugin/pkg/auth/authorizer/rbac (RBACAuthorizer.Authorize, RulesFor,
SubjectAccessEvaluator.AllowedSubjects) over DefaultRuleResolver.VisitRulesFor in
pkg/registry/rbac/validation/rule.go. A request is allowed when a rule reached
through a binding that names the user (or one of its groups) allows it:
ClusterRoleBindings count everywhere, RoleBindings only for requests in their own
namespace, so a cluster-wide request (`namespace=""`) is never allowed by a
RoleBinding, even one granting a ClusterRole. A binding to a role that does not
exist grants nothing, and says so in the denial's reason. RBAC only allows;
a request no rule allows gets "no opinion", which ends as a denial.

A report asks its questions with ordinary requests, cluster-wide unless it gives
a namespace, e.g. for a service account's token
(`user, groups = subjects.service_account_identity(ns, name)`):
  read every secret   allowed(verb="get"/"list", resource="secrets")
  create pods         allowed(verb="create", resource="pods", namespace=ns)
  escalate / bind     allowed(verb="escalate"/"bind", api_group="rbac.authorization.k8s.io",
                              resource="clusterroles")
  impersonate         allowed(verb="impersonate", resource="users"/"groups"/"serviceaccounts")
  cluster-admin       allowed(verb="*", api_group="*", resource="*") -- only a rule with
                      all three wildcards, bound cluster-wide, allows that literally
and `grants_for` says which binding gives each rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podwarden.rbac import objects
from podwarden.rbac.objects import Binding
from podwarden.rbac.rules import Attributes, Request, Rule, rules_allow
from podwarden.rbac.subjects import PRIVILEGED_GROUP, Subject, applies_to


@dataclass(frozen=True, slots=True)
class Grant:
    """The rules one binding gives a user, through `subject`; `error` when its role
    does not exist (then `rules` is empty)."""

    binding: Binding
    subject: Subject
    rules: tuple[Rule, ...]
    error: str = ""

    def describe(self) -> str:
        return self.binding.describe(self.subject)


@dataclass(frozen=True, slots=True)
class Decision:
    """`allowed`, or no opinion; `reason` as upstream words it
    (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "u"`, or the
    unresolved role references, or "")."""

    allowed: bool
    reason: str = ""
    grant: Grant | None = None


class Authorizer:
    """Immutable: built once from RBAC objects, then asked any number of questions."""

    def __init__(self, loaded: objects.Objects) -> None:
        self._roles = dict(loaded.roles)
        self._cluster_roles = dict(loaded.cluster_roles)
        self._cluster_bindings = tuple(b for b in loaded.bindings if b.namespace is None)
        by_namespace: dict[str, list[Binding]] = {}
        for binding in loaded.bindings:
            if binding.namespace is not None:
                by_namespace.setdefault(binding.namespace, []).append(binding)
        self._role_bindings = {ns: tuple(found) for ns, found in by_namespace.items()}

    @classmethod
    def from_objects(cls, docs: Iterable[Mapping[str, Any]]) -> Authorizer:
        """From any objects: RBAC ones are read (RbacError if malformed), others skipped."""
        return cls(objects.load(docs))

    def cluster_role_rules(self, name: str) -> tuple[Rule, ...] | None:
        """A ClusterRole's effective rules (aggregated), None when there is no such role."""
        return self._cluster_roles.get(name)

    def grants_for(
        self, *, user: str, groups: Sequence[str] = (), namespace: str = ""
    ) -> Iterator[Grant]:
        """Every binding that names the user in `namespace` (upstream VisitRulesFor order:
        ClusterRoleBindings, then, for a namespace, its RoleBindings)."""
        bound = self._cluster_bindings
        if namespace:
            bound = bound + self._role_bindings.get(namespace, ())
        for binding in bound:
            subject = next(
                (s for s in binding.subjects if applies_to(s, user, groups, namespace_of(binding))),
                None,
            )
            if subject is not None:
                yield self._grant(binding, subject)

    def rules_for(
        self, *, user: str, groups: Sequence[str] = (), namespace: str = ""
    ) -> tuple[Rule, ...]:
        """upstream RulesFor: every rule that applies to the user in `namespace`
        ("" : the cluster-wide rules only)."""
        return tuple(
            rule
            for grant in self.grants_for(user=user, groups=groups, namespace=namespace)
            for rule in grant.rules
        )

    def authorize(self, request: Attributes) -> Decision:
        """upstream RBACAuthorizer.Authorize."""
        errors: list[str] = []
        for grant in self.grants_for(
            user=request.user, groups=request.groups, namespace=request.namespace
        ):
            if rules_allow(request, grant.rules):
                return Decision(True, f"RBAC: allowed by {grant.describe()}", grant)
            if grant.error:
                errors.append(grant.error)
        return Decision(False, _aggregate("RBAC: ", errors))

    def allowed(
        self,
        *,
        user: str,
        groups: Sequence[str] = (),
        verb: str,
        api_group: str = "",
        resource: str,
        subresource: str = "",
        name: str = "",
        namespace: str = "",
    ) -> bool:
        """May `user` (in `groups`) `verb` the resource? `namespace=""` asks cluster-wide."""
        request = Request(
            user, tuple(groups), verb, api_group, resource, subresource, name, namespace
        )
        return self.authorize(request).allowed

    def allowed_url(self, *, user: str, groups: Sequence[str] = (), verb: str, path: str) -> bool:
        """May `user` `verb` (get, post…) the non-resource URL `path`?"""
        request = Request(user, tuple(groups), verb, path=path, resource_request=False)
        return self.authorize(request).allowed

    def allowed_subjects(self, request: Attributes, *, super_user: str = "") -> tuple[Subject, ...]:
        """upstream SubjectAccessEvaluator.AllowedSubjects: who may make this request?
        The privileged group first (and `super_user`), then the subjects of every
        binding whose role allows it, without repeats."""
        found = [Subject("Group", PRIVILEGED_GROUP)]
        if super_user:
            found.append(Subject("User", super_user))
        bound = self._cluster_bindings
        if request.namespace:
            bound = bound + self._role_bindings.get(request.namespace, ())
        for binding in bound:
            rules = self._rules_of(binding)
            if rules is not None and rules_allow(request, rules):
                found.extend(binding.subjects)
        unique: list[Subject] = []
        for subject in found:
            if subject not in unique:
                unique.append(subject)
        return tuple(unique)

    def _rules_of(self, binding: Binding) -> tuple[Rule, ...] | None:
        if binding.role_kind == "Role":
            return self._roles.get((binding.namespace or "", binding.role_name))
        return self._cluster_roles.get(binding.role_name)

    def _grant(self, binding: Binding, subject: Subject) -> Grant:
        rules = self._rules_of(binding)
        if rules is not None:
            return Grant(binding, subject, rules)
        kind = binding.role_kind.lower()
        error = f'{kind}.{objects.GROUP} "{binding.role_name}" not found'
        return Grant(binding, subject, (), error)


def namespace_of(binding: Binding) -> str:
    """The namespace a binding lends to its unqualified ServiceAccount subjects."""
    return binding.namespace or ""


def _aggregate(prefix: str, errors: list[str]) -> str:
    """upstream utilerrors.NewAggregate's text: one error as is, several in brackets."""
    if not errors:
        return ""
    return prefix + (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
