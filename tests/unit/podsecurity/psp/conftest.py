"""Builders for PodSecurityPolicy tests: a permissive base policy and a plain pod."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from podwarden.podsecurity.psp import engine

BASE_SPEC: dict[str, Any] = {
    "seLinux": {"rule": "RunAsAny"},
    "runAsUser": {"rule": "RunAsAny"},
    "supplementalGroups": {"rule": "RunAsAny"},
    "fsGroup": {"rule": "RunAsAny"},
    "volumes": ["*"],
}


def policy_doc(name: str = "p", annotations: dict[str, str] | None = None, **spec: Any) -> dict:
    body = copy.deepcopy(BASE_SPEC)
    body.update(spec)
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "policy/v1beta1",
        "kind": "PodSecurityPolicy",
        "metadata": meta,
        "spec": body,
    }


def build_policy(name: str = "p", annotations: dict[str, str] | None = None, **spec: Any):
    return engine.load_policies([policy_doc(name, annotations, **spec)])[0]


def build_pod(*, containers: list[dict] | None = None, annotations=None, **spec: Any) -> dict:
    body: dict[str, Any] = {"containers": containers or [{"name": "c", "image": "busybox"}]}
    body.update(spec)
    meta: dict[str, Any] = {"name": "pod", "namespace": "default"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body}


@pytest.fixture
def make_policy() -> Callable[..., Any]:
    return build_policy


@pytest.fixture
def make_pod() -> Callable[..., dict]:
    return build_pod


@pytest.fixture
def refuse() -> Callable[..., list[str]]:
    """Admit under one policy (usable by all) and return PSP's reasons."""

    def run(pod: dict, **spec: Any) -> list[str]:
        annotations = spec.pop("policy_annotations", None)
        policy = build_policy(annotations=annotations, **spec)
        result = engine.admit(pod, policies=[policy], rbac=engine.Rbac.allow_all())
        return result.reasons

    return run
