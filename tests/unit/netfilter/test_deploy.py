"""The plain manifests in deploy/ are valid Kubernetes objects and say what the issue asks.

They are rendered from the chart (deploy/helm/podwarden, `make manifests`); the chart's own
sources and values under deploy/helm/ are tested in tests/integration/deploy/.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from podwarden import flags
from podwarden.agent.settings import AgentConfig
from podwarden.netfilter import commands, settings
from podwarden.netfilter.settings import RulesConfig

pytestmark = pytest.mark.peers("kubernetes-validate")

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
K8S_VERSION = "1.30"
NOT_API_OBJECTS = {("apiserver.config.k8s.io/v1", "AuthorizationConfiguration"), ("v1", "Config")}
"""Files kube-apiserver reads from disk (deploy/nodeauth), not objects of its API: they have
no API schema, and tests/unit/deploy/test_nodeauth_manifests.py checks their shape."""


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if DEPLOY / "helm" in path.parents:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and (doc.get("apiVersion"), doc.get("kind")) not in NOT_API_OBJECTS:
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


def test_configmap_documents_listen6_and_exempt_cgroups_as_accepted_keys():
    text = (DEPLOY / "agent" / "configmap.yaml").read_text()
    agent_yaml = by_name("ConfigMap", "podwarden-agent")["data"]["agent.yaml"]
    assert "exempt_cgroups" in yaml.safe_load(agent_yaml)
    example = next(
        line for line in agent_yaml.splitlines() if line.strip().startswith("# listen6:")
    )
    uncommented = agent_yaml + example.strip().removeprefix("# ") + "\n"
    data = {**yaml.safe_load(uncommented), "listen": "10.0.0.1:988"}  # from the command
    config = AgentConfig.model_validate(data)
    assert config.listen6 and config.checked().proxy6 == config.listen6
    assert "listen6" in text


def test_route_localnet_state_survives_agent_restarts_and_reaches_the_uninstaller():
    """/run/podwarden must be the host's, in the agent and in the uninstall job."""
    for name in ("podwarden-agent", "podwarden-uninstall"):
        spec = by_name("DaemonSet", name)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["state"]["hostPath"]["path"] == "/run/podwarden", name
        mounts = [
            m
            for c in spec.get("initContainers", []) + spec["containers"]
            for m in c.get("volumeMounts", [])
            if m["name"] == "state"
        ]
        assert mounts and all(m["mountPath"] == "/run/podwarden" for m in mounts), name
        assert all(not m.get("readOnly") for m in mounts), name


def test_the_daemonset_documents_the_cgroup_v1_writable_mount():
    text = (DEPLOY / "agent" / "daemonset.yaml").read_text()
    assert "cgroup v1 nodes" in text and "readOnly: false" in text


CONTAINERFILE = DEPLOY / "Containerfile"
INSTRUCTIONS = {
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
}


def containerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and `\\` continuations joined."""
    joined = ""
    found: list[tuple[str, str]] = []
    for line in CONTAINERFILE.read_text().splitlines():
        if not joined and (not line.strip() or line.lstrip().startswith("#")):
            continue
        joined += line.rstrip().removesuffix("\\") + " "
        if line.rstrip().endswith("\\"):
            continue
        word, _, rest = joined.strip().partition(" ")
        found.append((word, " ".join(rest.split())))
        joined = ""
    assert not joined, "the Containerfile ends inside a continued line"
    return found


def test_containerfile_syntax_and_contents():
    """No container engine here: the syntax is checked by hand, the contents by intent."""
    steps = containerfile_instructions()
    assert all(word in INSTRUCTIONS for word, _ in steps), steps
    assert steps[0][0] == "FROM" and "slim" in steps[0][1]
    stages = [args.split() for word, args in steps if word == "FROM"]
    names = {parts[2] for parts in stages if len(parts) == 3 and parts[1].upper() == "AS"}
    for word, args in steps:
        if word == "COPY" and not args.startswith("--from="):
            for source in args.split()[:-1]:
                assert (DEPLOY.parent / source).exists(), f"COPY {source}: not in the repository"
        if args.startswith("--from="):
            assert args.split()[0].removeprefix("--from=") in names, args
    runs = " ".join(args for word, args in steps if word == "RUN")
    for package in ("nftables", "iptables", "conntrack", "procps"):
        assert f" {package}" in runs, package
    # The lock's wheels, hashes required, then podwarden from that wheel set only.
    assert re.search(r"pip wheel [^&]*--require-hashes [^&]*-r requirements\.txt", runs), runs
    assert re.search(r"pip install [^&]*--no-index [^&]* podwarden( |$)", runs), runs
    entrypoint = json.loads(next(args for word, args in steps if word == "ENTRYPOINT"))
    assert entrypoint == ["podwarden"]
    agent = by_name("DaemonSet", "podwarden-agent")["spec"]["template"]["spec"]["containers"][0]
    assert agent["command"][0] == entrypoint[0]


UNIT = DEPLOY / "systemd" / "podwarden-rules.service"


def exec_start() -> list[str]:
    line = next(ln for ln in UNIT.read_text().splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_boot_unit_applies_fail_closed_rules_without_a_pod_cgroup_before_kubelet():
    argv = exec_start()
    assert argv[:3] == ["/usr/local/bin/podwarden", "rules", "apply"]
    assert "--fail-closed-only" in argv and "--pod-cgroup" not in argv
    context = commands.apply_command.make_context("apply", argv[3:])  # flags as the CLI parses
    given = {k: v for k, v in context.params.items() if k != "config_file"}
    with context:
        spec = settings.rule_spec(flags.load(settings.RulesConfig, given))
    assert spec.fail_closed_only and spec.pod_cgroup is None
    text = UNIT.read_text()
    assert "Before=" in text and "kubelet.service" in text.split("Before=")[1].splitlines()[0]
    assert "RequiredBy=kubelet.service" in text  # no rules, no kubelet: fail closed


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_boot_unit_passes_systemd_analyze_verify(tmp_path: Path):
    podwarden = Path(sys.executable).with_name("podwarden")  # the unit names /usr/local/bin
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/podwarden", str(podwarden)))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert UNIT.name not in proc.stderr, proc.stderr
