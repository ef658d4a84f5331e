"""The plain manifests in deploy/ are valid Kubernetes objects and say what the issue asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from podwarden.agent.settings import AgentConfig
from podwarden.netfilter.settings import RulesConfig

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
K8S_VERSION = "1.30"


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((f"{path.relative_to(DEPLOY)}:{doc['kind']}", doc))
    return found


@pytest.mark.parametrize(("where", "doc"), documents(), ids=[w for w, _ in documents()])
def test_manifest_validates_against_the_api_schema(where: str, doc: dict[str, Any]):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def by_name(kind: str, name: str) -> dict[str, Any]:
    return next(d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name)


def test_agent_daemonset_is_hardened_as_the_issue_asks():
    spec = by_name("DaemonSet", "podwarden-agent")["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert spec["priorityClassName"] == "system-node-critical"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    for container in spec["initContainers"] + spec["containers"]:
        security = container["securityContext"]
        assert "privileged" not in security
        assert set(security["capabilities"]["add"]) == {"NET_ADMIN", "NET_RAW"}
    assert "--fail-closed-only" in spec["initContainers"][0]["command"]
    agent = spec["containers"][0]
    assert agent["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_configmap_keys_are_accepted_by_the_commands():
    data = by_name("ConfigMap", "podwarden-agent")["data"]
    AgentConfig.model_validate(yaml.safe_load(data["agent.yaml"]))
    RulesConfig.model_validate(yaml.safe_load(data["rules.yaml"]))
