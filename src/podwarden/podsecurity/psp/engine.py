"""PodSecurityPolicy admission: load policies, select one as PSP did, mutate, patch.

Selection follows Kubernetes' PSP admission plugin in its final form (1.11-1.24):
policies are tried in name order; each is applied to a copy of the pod (defaults
filled in, then validated); only policies the requesting user or the pod's
service account may `use` count; the first policy that admits the pod *without
changing it* wins, otherwise the first (by name) that admits it with changes.
The chosen policy is recorded in the `podwarden.io/psp` annotation and the whole
change comes back as a JSON Patch. When nothing admits the pod, the errors of
every usable policy are listed, in PSP's words.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from podwarden.api import keys, pods
from podwarden.config import ConfigError, describe_validation_error
from podwarden.podsecurity.psp import patch, provider
from podwarden.podsecurity.psp.fielderr import FieldError, go_error_list, invalid
from podwarden.podsecurity.psp.model import (
    ACCEPTED_API_VERSIONS,
    PODWARDEN_GROUP,
    PodSecurityPolicyObject,
    Policy,
)
from podwarden.podsecurity.psp.rbac import Rbac, RbacError

__all__ = [
    "DENIED_PREFIX",
    "NO_POLICIES",
    "Policy",
    "PolicyError",
    "PspResult",
    "Rbac",
    "RbacError",
    "admit",
    "is_policy",
    "load_policies",
]

DENIED_PREFIX = "PodSecurityPolicy: unable to admit pod: "
"""How PSP (Kubernetes 1.11-1.24) began a denial; before 1.11 it said
`unable to validate against any pod security policy: `."""
NO_POLICIES = "no providers available to validate pod request"

CanUse = Callable[[str, str], bool]
"""A plain callback `(policy_name, namespace) -> bool`, e.g. answers from SubjectAccessReviews."""


class PolicyError(ConfigError):
    """A PodSecurityPolicy document could not be used; the message names the key."""


def is_policy(doc: Mapping[str, Any]) -> bool:
    """Is this document meant as a PodSecurityPolicy (whatever its apiVersion)?"""
    return isinstance(doc, Mapping) and doc.get("kind") == "PodSecurityPolicy"


def _check_api_version(where: str, api_version: Any) -> None:
    if api_version in ACCEPTED_API_VERSIONS:
        return
    group, _, version = str(api_version).partition("/")
    if isinstance(api_version, str) and group == PODWARDEN_GROUP and version:
        return
    raise PolicyError(
        f"{where}: apiVersion: {api_version!r} is not accepted; use policy/v1beta1, "
        f"extensions/v1beta1 or {PODWARDEN_GROUP}/<version>"
    )


def load_policies(docs: Iterable[Mapping[str, Any]]) -> list[Policy]:
    """Validate PodSecurityPolicy documents into policies, sorted by name.

    Raises PolicyError naming the document and key for anything Kubernetes'
    API validation would have refused, for another kind, or a duplicate name.
    """
    policies: dict[str, Policy] = {}
    for index, doc in enumerate(docs):
        where = f"document {index + 1}"
        if not isinstance(doc, Mapping):
            raise PolicyError(f"{where}: expected a PodSecurityPolicy mapping")
        name = (
            (doc.get("metadata") or {}).get("name")
            if isinstance(doc.get("metadata"), Mapping)
            else None
        )
        if isinstance(name, str) and name:
            where = f"PodSecurityPolicy {name!r}"
        if doc.get("kind") != "PodSecurityPolicy":
            raise PolicyError(f"{where}: kind: {doc.get('kind')!r} is not PodSecurityPolicy")
        _check_api_version(where, doc.get("apiVersion"))
        try:
            parsed = PodSecurityPolicyObject.model_validate(dict(doc))
        except ValidationError as exc:
            raise PolicyError(describe_validation_error(where, exc)) from None
        if parsed.metadata.name in policies:
            raise PolicyError(f"{where}: metadata.name: duplicate policy name")
        policies[parsed.metadata.name] = Policy(
            name=parsed.metadata.name,
            spec=parsed.spec,
            annotations=dict(parsed.metadata.annotations),
            api_version=parsed.api_version,
        )
    return [policies[name] for name in sorted(policies)]


@dataclass
class PspResult:
    """The decision: allowed, the chosen policy, the patch, PSP's reasons, the new pod."""

    allowed: bool
    policy: str | None
    patch: list[dict[str, Any]] | None
    reasons: list[str]
    pod: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)

    @property
    def message(self) -> str:
        """The denial as the API server printed it ('' when allowed)."""
        if self.allowed:
            return ""
        if self.reasons == [NO_POLICIES]:
            return NO_POLICIES
        return DENIED_PREFIX + go_error_list(self.reasons)


def _malformed(pod: Mapping[str, Any]) -> str:
    """What makes the pod unreadable before any policy is tried ('' when fine)."""
    meta = pod.get("metadata")
    if meta is not None and not isinstance(meta, Mapping):
        return "metadata must be an object"
    annotations = pods.field(pod, "metadata", "annotations")
    if annotations is not None and not (
        isinstance(annotations, Mapping) and all(isinstance(v, str) for v in annotations.values())
    ):
        return "metadata.annotations must map strings to strings"
    if not isinstance(pod.get("spec"), Mapping):
        return "spec must be an object"
    return ""


def _clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data, several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    if isinstance(value, str | int | float | bool | None):
        return value
    return copy.deepcopy(value)


def _apply(policy: Policy, pod: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    candidate = _clone(dict(pod))
    try:
        provider.mutate_pod(policy, candidate)
        return candidate, provider.validate_pod(policy, candidate)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        # A pod too malformed to evaluate is refused under this policy, never admitted.
        return candidate, [invalid("spec", "", f"malformed pod: {type(exc).__name__}: {exc}")]


def admit(
    pod: Mapping[str, Any],
    *,
    policies: Sequence[Policy],
    rbac: Rbac | CanUse,
    user: str = "",
    groups: Sequence[str] = (),
    namespace: str = "default",
    allow_mutation: bool = True,
) -> PspResult:
    """Admit `pod` as PSP would on create (`allow_mutation=False`: as on update).

    `rbac` is an `Rbac` (RBAC objects, or `Rbac.allow_all()`) or a callback
    `(policy_name, namespace) -> bool` already bound to the requesting user and
    the pod's service account.
    """
    if not isinstance(pod, Mapping):
        return PspResult(False, None, None, ["malformed pod: not an object"], {})
    original = dict(pod)
    problem = _malformed(original)
    if problem:
        return PspResult(False, None, None, [f"malformed pod: {problem}"], original)
    if not policies:
        return PspResult(False, None, None, [NO_POLICIES], original)
    service_account = pods.service_account(pod)

    def usable(name: str) -> bool:
        if isinstance(rbac, Rbac):
            return rbac.can_use(
                name,
                user=user,
                groups=groups,
                service_account=service_account,
                namespace=namespace,
            )
        try:
            return rbac(name, namespace) is True
        except Exception:  # an authorizer that cannot answer grants nothing
            return False

    failures: dict[str, list[FieldError]] = {}
    first_mutating: tuple[str, dict[str, Any]] | None = None
    chosen: tuple[str, dict[str, Any]] | None = None
    # On update PSP tried the policy that validated the pod at creation first.
    hint = pods.field(pod, "metadata", "annotations", keys.PSP_CHOSEN)
    order = sorted(policies, key=lambda p: (allow_mutation or p.name != hint, p.name))
    for policy in order:
        candidate, errors = _apply(policy, pod)
        if errors:
            failures[policy.name] = errors
            continue
        mutated = candidate != original
        if mutated and not allow_mutation:
            continue
        if not usable(policy.name):
            continue
        if not mutated:
            chosen = (policy.name, candidate)
            break
        if first_mutating is None:
            first_mutating = (policy.name, candidate)
    chosen = chosen or first_mutating
    if chosen is not None:
        name, candidate = chosen
        if not allow_mutation:
            return PspResult(True, name, None, [], original)
        meta = candidate.get("metadata") or {}
        candidate["metadata"] = meta
        meta["annotations"] = {**(meta.get("annotations") or {}), keys.PSP_CHOSEN: name}
        return PspResult(True, name, patch.diff(original, candidate), [], candidate)
    errors = [e for name in sorted(failures) if usable(name) for e in failures[name]]
    return PspResult(False, None, None, [str(e) for e in errors], original, errors)
