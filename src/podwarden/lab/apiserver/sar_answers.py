"""The lab API server's SubjectAccessReview answers: a table the test or demo declares.

Why a table and not RBAC: the webhook selects PodSecurityPolicies by asking the
API server "may this user `use` that policy?". If the lab computed the answer
with podwarden's own RBAC code, a webhook test would check that code against
itself and could never catch a wrong question or a wrong evaluation. So the lab
authorizes nothing by itself: it answers exactly what a fixture declared, and
denies everything else with a reason that spells out the unlisted question (a
test that forgot an answer fails saying what was asked).

A question is matched exactly: user, groups (as a set: order and repeats do not
count), verb, API group, resource, subresource, name and namespace for a
resource request; user, groups, verb and path for a non-resource URL. uid,
extra, version and selectors are not part of it.

File (`podwarden lab apiserver --sar-answers FILE`, YAML or JSON), or the same
data given to `LabApiServer(sar_answers=AnswerTable.from_data(...))`:

    answers:
    - {user: alice, groups: [system:authenticated], verb: use, group: policy,
       resource: podsecuritypolicies, name: example, namespace: team,
       allowed: true, reason: alice may use example}
    - {user: bob, groups: [], verb: get, path: /healthz, allowed: false, denied: true}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from podwarden.config import ConfigError, read_yaml, validate

DEFAULT_DENY = "the lab's SubjectAccessReview answer table has no entry for"

Key = tuple[str, frozenset[str], str, str, str, str, str, str, str]


class Answer(BaseModel):
    """One declared question and its answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = ""
    groups: list[str] = []
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""
    allowed: bool
    denied: bool = False
    reason: str = ""

    @model_validator(mode="after")
    def _one_kind_of_request(self) -> Answer:
        if bool(self.resource) == bool(self.path):
            raise ValueError("give either resource (a resource request) or path (a URL)")
        if self.path and (self.group or self.subresource or self.name or self.namespace):
            raise ValueError("a path (non-resource URL) question has no group/name/namespace")
        if self.allowed and self.denied:
            raise ValueError("allowed and denied cannot both be true")
        return self

    def key(self) -> Key:
        return (
            self.user,
            frozenset(self.groups),
            self.verb,
            self.group,
            self.resource,
            self.subresource,
            self.name,
            self.namespace,
            self.path,
        )


class AnswerFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[Answer] = []


class AnswerTable:
    """Declared answers, looked up exactly; anything else is denied."""

    def __init__(self, answers: Iterable[Answer] = (), *, source: str = "answers") -> None:
        self._table: dict[Key, tuple[int, Answer]] = {}
        for index, answer in enumerate(answers):
            earlier = self._table.get(answer.key())
            if earlier is not None and earlier[1] != answer:
                raise ConfigError(
                    f"{source}: answers.{index}: the same question as answers.{earlier[0]} "
                    "with another answer"
                )
            self._table[answer.key()] = (index, answer)

    @classmethod
    def from_data(cls, data: Any, *, source: str) -> AnswerTable:
        """From `{answers: [...]}` (or the list alone); ConfigError naming the bad key."""
        if isinstance(data, list):
            data = {"answers": data}
        return cls(validate(AnswerFile, data, source=source).answers, source=source)

    @classmethod
    def load(cls, path: Path) -> AnswerTable:
        return cls.from_data(read_yaml(path), source=str(path))

    def answer(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The SubjectAccessReview status for a review's spec."""
        key = question(spec)
        found = self._table.get(key)
        if found is None:
            return {"allowed": False, "reason": f"{DEFAULT_DENY} {describe(key)}"}
        index, answer = found
        status: dict[str, Any] = {
            "allowed": answer.allowed,
            "reason": answer.reason or f"declared in the lab's answer table (answers.{index})",
        }
        if answer.denied:
            status["denied"] = True
        return status


def question(spec: Mapping[str, Any]) -> Key:
    """The lookup key of a SubjectAccessReview spec (resource or non-resource);
    ValueError when it has neither kind of attributes."""
    attrs = spec.get("resourceAttributes")
    url = spec.get("nonResourceAttributes")
    user = str(spec.get("user") or "")
    groups = frozenset(str(g) for g in spec.get("groups") or [])
    if isinstance(attrs, Mapping):
        fields = ("verb", "group", "resource", "subresource", "name", "namespace")
        verb, group, resource, subresource, name, namespace = (
            str(attrs.get(f) or "") for f in fields
        )
        return (user, groups, verb, group, resource, subresource, name, namespace, "")
    if not isinstance(url, Mapping):
        raise ValueError("spec.resourceAttributes or spec.nonResourceAttributes: required")
    return (
        user,
        groups,
        str(url.get("verb") or ""),
        "",
        "",
        "",
        "",
        "",
        str(url.get("path") or ""),
    )


def describe(key: Key) -> str:
    """The question in words, as an entry of the table would spell it."""
    user, groups, verb, group, resource, subresource, name, namespace, path = key
    parts = [f"user {user!r}", f"groups {sorted(groups)}", f"verb {verb!r}"]
    if path:
        parts.append(f"path {path!r}")
    else:
        parts += [f"group {group!r}", f"resource {resource!r}"]
        parts += [f"{k} {v!r}" for k, v in (("subresource", subresource), ("name", name)) if v]
        parts.append(f"namespace {namespace!r}")
    return ", ".join(parts) + " (unlisted questions are denied)"
