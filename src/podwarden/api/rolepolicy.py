"""May a namespace's pods assume this cloud identity? One rule for admission and proxy.

The identity guard (admission) and the metadata proxy (issue 3) must agree on
which roles a namespace permits, so the rule lives here, pure and stdlib-only.
It fails closed: a namespace without a permitting annotation permits nothing,
and a malformed annotation permits nothing and says why.

Namespace annotations read:
- AWS: `iam.amazonaws.com/allowed-roles` — a JSON list of globs (kube2iam's
  format), and `iam.amazonaws.com/permitted` — a regular expression (kiam's).
  Either may permit. The role value must name an IAM role (`iamroles.py`:
  no `..`, no empty segments, IAM's characters only), whatever the patterns
  say. Names are completed with `base_role_arn` on both sides when it is
  given: a glob is matched as a full ARN against the role's full ARN, and the
  regex against both the role's full ARN and its path and name below the base,
  so `explicit-role` and `arn:...:role/explicit-role` are one role to both.
  In a glob `*` and `?` stay within one path segment and `**` crosses `/`
  (kube2iam's `*` crossed `/`, so `team-*` permitted `team-x/admin`).
  Without a base, a pattern without `arn:` is matched against the path and
  name of the role (after `role/` in an ARN), in any account. The
  regex must match the whole role (or its full ARN): kiam searched anywhere
  in the string, which lets `dev` permit `prod-dev-admin`; anchoring is the
  safe reading. A regex sees `/` like any character: write `team-[^/]*` to
  stay within one segment.
- GCP: `podwarden.io/allowed-gcp-service-accounts` — a JSON list of globs of
  service-account e-mails.
- Azure: `podwarden.io/allowed-azure-client-ids` — a JSON list of globs of
  client IDs, compared case-insensitively (they are GUIDs).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from typing import Literal

from podwarden.api import iamroles, keys

Kind = Literal["aws", "gcp", "azure"]
MAX_PATTERN = 4096


class _Malformed(ValueError):
    pass


def _glob_list(annotations: Mapping[str, str], key: str) -> list[str] | None:
    raw = annotations.get(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise _Malformed(f"namespace annotation {key} is not valid JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(f"namespace annotation {key} must be a JSON list of strings")
    return value


def _full_arn(role: str, base_role_arn: str | None) -> str:
    if role.startswith("arn:") or not base_role_arn:
        return role
    return base_role_arn.rstrip("/") + "/" + role.lstrip("/")


def role_glob(pattern: str) -> re.Pattern[str]:
    """A role glob as an anchored regex: `*`/`?` within a segment, `**` across `/`."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts), re.DOTALL)


def _aws(role: str, annotations: Mapping[str, str], base_role_arn: str | None) -> tuple[bool, str]:
    try:
        named = _named_role(role, base_role_arn)
    except iamroles.RoleValueError as exc:
        return False, str(exc)
    allowed = _glob_list(annotations, keys.AWS_ALLOWED_ROLES)
    permitted = annotations.get(keys.AWS_PERMITTED)
    pattern = None
    if permitted is not None:
        if len(permitted) > MAX_PATTERN:
            raise _Malformed(f"namespace annotation {keys.AWS_PERMITTED} is too long")
        try:
            pattern = re.compile(permitted)
        except re.error as exc:
            raise _Malformed(
                f"namespace annotation {keys.AWS_PERMITTED} is not a valid regular expression: "
                f"{exc}"
            ) from None
    if allowed is None and pattern is None:
        return False, (
            f"namespace has no {keys.AWS_ALLOWED_ROLES} or {keys.AWS_PERMITTED} annotation, "
            "so no role is permitted"
        )
    arn, below = named
    for glob in allowed or ():
        wanted = glob.strip()
        if not wanted.startswith("arn:") and base_role_arn is not None:
            wanted = _full_arn(wanted, base_role_arn)
        subject = arn if wanted.startswith("arn:") else below
        if subject is not None and role_glob(wanted).fullmatch(subject):
            return True, f"role {role!r} matches {glob!r} in {keys.AWS_ALLOWED_ROLES}"
    spellings = [s for s in (arn, below) if s is not None]
    if pattern is not None and any(pattern.fullmatch(spelling) for spelling in spellings):
        return True, f"role {role!r} matches {keys.AWS_PERMITTED}"
    return False, f"role {role!r} is not permitted by the namespace's annotations"


def _named_role(role: str, base_role_arn: str | None) -> tuple[str | None, str | None]:
    """(full ARN, path and name) of the role, either unknown as None; RoleValueError if unusable.

    With a base both are known for a name, and for an ARN under the base. Without one
    a name has no ARN (its account is unknown) and an ARN's path and name are those
    after `role/`: a pattern without `arn:` then matches them in any account.
    """
    value = role.strip()
    if value.startswith("arn:") or base_role_arn is not None:
        checked = iamroles.resolve(value, base_role_arn)
        if base_role_arn is None:
            return checked.arn, checked.path + checked.name
        return checked.arn, iamroles.relative_to(checked, base_role_arn)
    return None, iamroles.relative(value)


def _listed(
    kind: str, value: str, annotations: Mapping[str, str], key: str, *, fold: bool
) -> tuple[bool, str]:
    allowed = _glob_list(annotations, key)
    if allowed is None:
        return False, f"namespace has no {key} annotation, so no {kind} is permitted"
    subject = value.lower() if fold else value
    for glob in allowed:
        if fnmatch.fnmatchcase(subject, glob.lower() if fold else glob):
            return True, f"{kind} {value!r} matches {glob!r} in {key}"
    return False, f"{kind} {value!r} is not permitted by the namespace's {key} annotation"


def role_permitted(
    kind: Kind,
    role: str,
    namespace_annotations: Mapping[str, str],
    *,
    base_role_arn: str | None = None,
) -> tuple[bool, str]:
    """(permitted, reason) for a pod in a namespace with these annotations asking for `role`."""
    if not role.strip():
        return False, "the role annotation is empty"
    try:
        if kind == "aws":
            return _aws(role, namespace_annotations, base_role_arn)
        if kind == "gcp":
            return _listed(
                "service account",
                role,
                namespace_annotations,
                keys.GCP_ALLOWED_SERVICE_ACCOUNTS,
                fold=False,
            )
        if kind == "azure":
            return _listed(
                "client ID", role, namespace_annotations, keys.AZURE_ALLOWED_CLIENT_IDS, fold=True
            )
    except _Malformed as exc:
        return False, str(exc)
    return False, f"unknown identity kind {kind!r}"
