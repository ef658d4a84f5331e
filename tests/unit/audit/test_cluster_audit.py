"""`podwarden audit` over cluster files: each finding paired with the case that must not
raise it, the exit codes of --fail-on, and the errors for unusable input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from podwarden.audit import agentconfig, podchecks, scan
from podwarden.cli import main
from podwarden.kube import snapshot
from podwarden.kube.objects import Pod
from tests.support import pods

AGENT_LABELS = {"app.kubernetes.io/name": "podwarden-agent"}
UID = "0f1e2d3c-aaaa-bbbb-cccc-000000000001"


def pod(
    name: str,
    namespace: str = "apps",
    *,
    node: str = "n1",
    ready: bool = True,
    qos: str = "BestEffort",
    uid: str = "",
    **fields: Any,
) -> dict[str, Any]:
    """A pod as the cluster audit reads it: with its QoS class and Ready condition."""
    built = pods.pod(
        name, namespace=namespace, node=node, uid=uid or f"uid-{namespace}-{name}", **fields
    )
    built["status"]["qosClass"] = qos
    built["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return built


def ns(name: str, *, labels: dict[str, str] | None = None, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations},
    }


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def agent_configmap(text: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "podwarden-agent", "namespace": "kube-system"},
        "data": {"agent.yaml": text},
    }


def agent(node_name: str, **kw: Any) -> dict[str, Any]:
    return pod(
        f"podwarden-agent-{node_name}",
        "kube-system",
        node=node_name,
        labels=AGENT_LABELS,
        hostNetwork=True,
        containers=[
            {
                "name": "agent",
                "image": "podwarden",
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
            }
        ],
        **kw,
    )


def cluster(*objects: dict[str, Any], cgroup: str = "pod_cgroup: kubepods.slice") -> list[Any]:
    base = [ns("apps"), ns("kube-system"), node("n1"), agent("n1"), agent_configmap(cgroup)]
    return [*base, *objects]


def report_of(objects: list[Any], **settings: Any) -> scan.Report:
    snap = snapshot.Snapshot(source="test")
    for obj in objects:
        snap.add(obj)
    return scan.run(snap, scan.Settings(**settings))


def found(report: scan.Report, check: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        if f.check == check:
            out.setdefault(f.subject, []).append(f"{f.severity}: {f.message}")
    return out


# ---- firewall bypass --------------------------------------------------------------------


def test_a_plain_pod_and_the_agent_itself_are_not_bypasses() -> None:
    report = report_of(cluster(pod("web")))
    assert found(report, podchecks.BYPASS) == {}


def test_privileged_is_critical() -> None:
    priv = pod("priv", containers=[{"name": "c", "securityContext": {"privileged": True}}])
    report = report_of(cluster(priv, pod("plain")))
    assert list(found(report, podchecks.BYPASS)) == ["pod apps/priv"]
    assert found(report, podchecks.BYPASS)["pod apps/priv"][0].startswith("critical: privileged")


@pytest.mark.parametrize("cap", ["NET_RAW", "net_admin", "CAP_NET_RAW", "ALL"])
def test_added_net_capabilities_are_high(cap: str) -> None:
    raw = pod(
        "raw", containers=[{"name": "c", "securityContext": {"capabilities": {"add": [cap]}}}]
    )
    other = pod(
        "chown", containers=[{"name": "c", "securityContext": {"capabilities": {"add": ["CHOWN"]}}}]
    )
    report = report_of(cluster(raw, other))
    assert list(found(report, podchecks.BYPASS)) == ["pod apps/raw"]
    assert found(report, podchecks.BYPASS)["pod apps/raw"][0].startswith(
        "high: adds NET_ADMIN/NET_RAW"
    )


def test_host_network_is_caught_by_the_pod_cgroup_unless_exempt() -> None:
    caught = pod("caught", hostNetwork=True, uid=UID)
    assert found(report_of(cluster(caught)), podchecks.BYPASS) == {}
    leaf = f"kubepods-besteffort-pod{UID.replace('-', '_')}.slice"
    systemd = f"kubepods.slice/kubepods-besteffort.slice/{leaf}"
    exempt = cluster(caught, cgroup=f"pod_cgroup: kubepods.slice\nexempt_cgroups: [{systemd}]")
    assert (
        "exempt_cgroups entry" in found(report_of(exempt), podchecks.BYPASS)["pod apps/caught"][0]
    )
    qos_config = "pod_cgroup: kubepods\nexempt_cgroups: [kubepods/besteffort]"
    qos = cluster(caught, cgroup=qos_config)
    assert "pod apps/caught" in found(report_of(qos), podchecks.BYPASS)
    burstable = pod("burst", hostNetwork=True, qos="Burstable")
    assert found(report_of(cluster(burstable, cgroup=qos_config)), podchecks.BYPASS) == {}


def test_a_static_pods_cgroup_is_named_by_its_config_hash() -> None:
    static = pod(
        "kube-proxy-n1",
        hostNetwork=True,
        annotations={agentconfig.CONFIG_HASH: "abc123"},
        uid="mirror-uid",
    )
    exempt = cluster(
        static, cgroup="pod_cgroup: kubepods\nexempt_cgroups: [kubepods/besteffort/podabc123]"
    )
    assert "pod apps/kube-proxy-n1" in found(report_of(exempt), podchecks.BYPASS)
    other = cluster(
        static, cgroup="pod_cgroup: kubepods\nexempt_cgroups: [kubepods/besteffort/podzzz]"
    )
    assert found(report_of(other), podchecks.BYPASS) == {}


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ("provider: aws", "the agent has no pod_cgroup"),
        (
            None,
            "cannot tell whether the agent catches it: "
            "ConfigMap kube-system/podwarden-agent not found",
        ),
        ("pod_cgroup: [x]", "pod_cgroup must be a string"),
        ("{{", "is not valid YAML"),
    ],
)
def test_host_network_without_a_known_pod_cgroup_is_a_bypass(config: str | None, why: str) -> None:
    objects = cluster(pod("hn", hostNetwork=True))
    objects = [o for o in objects if o["kind"] != "ConfigMap"]
    if config is not None:
        objects.append(agent_configmap(config))
    (message,) = found(report_of(objects), podchecks.BYPASS)["pod apps/hn"]
    assert message.startswith("high: hostNetwork outside the agent's pod cgroup") and why in message


def test_host_network_with_net_admin_is_critical_even_when_caught() -> None:
    sneaky = pod(
        "sneaky",
        hostNetwork=True,
        containers=[{"name": "c", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
    )
    (message,) = found(report_of(cluster(sneaky)), podchecks.BYPASS)["pod apps/sneaky"]
    assert message.startswith("critical: hostNetwork with NET_ADMIN")


def test_finished_pods_are_not_judged() -> None:
    done = pod(
        "done",
        phase="Succeeded",
        containers=[{"name": "c", "securityContext": {"privileged": True}}],
    )
    assert found(report_of(cluster(done)), podchecks.BYPASS) == {}


# ---- role annotations -------------------------------------------------------------------


def test_role_annotations_follow_the_namespace_permissions() -> None:
    objects = cluster(
        pod("ok", annotations={"iam.amazonaws.com/role": "reader"}),
        pod("bad", annotations={"iam.amazonaws.com/role": "admin"}),
        pod("gcp", annotations={"iam.gke.io/gcp-service-account": "a@p.iam.gserviceaccount.com"}),
        pod("lost", "ghost", annotations={"iam.amazonaws.com/role": "reader"}),
    )
    objects[0] = ns("apps", **{"iam.amazonaws.com/allowed-roles": '["reader"]'})
    roles = found(report_of(objects), podchecks.ROLE)
    assert sorted(roles) == ["pod apps/bad", "pod apps/gcp", "pod ghost/lost"]
    assert roles["pod apps/bad"] == [
        "medium: iam.amazonaws.com/role=admin: role 'admin' is not permitted by the namespace's "
        "annotations"
    ]
    assert "namespace 'ghost' not found" in roles["pod ghost/lost"][0]


def test_base_role_arn_completes_names_on_both_sides() -> None:
    arn = "arn:aws:iam::123456789012:role/reader"
    objects = cluster(pod("full", annotations={"iam.amazonaws.com/role": arn}))
    objects[0] = ns("apps", **{"iam.amazonaws.com/allowed-roles": '["reader"]'})
    # Without a base, a bare pattern names the role in any account: the full ARN matches.
    assert found(report_of(objects), podchecks.ROLE) == {}
    completed = report_of(objects, base_role_arn="arn:aws:iam::123456789012:role/")
    assert found(completed, podchecks.ROLE) == {}
    # With another account's base, the pattern completes to that account: refused.
    elsewhere = report_of(objects, base_role_arn="arn:aws:iam::999999999999:role/")
    assert "pod apps/full" in found(elsewhere, podchecks.ROLE)


# ---- agents ------------------------------------------------------------------------------


def test_every_node_needs_a_running_ready_agent() -> None:
    objects = cluster(
        node("n2"),
        node("n3"),
        agent("n3", ready=False),
        node("n4"),
        agent("n4", phase="Pending", ready=False),
    )
    report = report_of(objects)
    assert list(found(report, podchecks.AGENT_MISSING)) == ["node n2"]
    assert sorted(found(report, podchecks.AGENT_NOT_READY)) == ["node n3", "node n4"]
    assert "node n1" not in found(report, podchecks.AGENT_MISSING)


def test_the_agent_selector_and_namespace_are_configurable() -> None:
    moved = agent("n1")
    moved["metadata"].update(namespace="podwarden", labels={"app": "pw-agent"})
    objects = [o for o in cluster() if not o["metadata"]["name"].startswith("podwarden-agent-")]
    objects.append(moved)
    assert "node n1" in found(report_of(objects), podchecks.AGENT_MISSING)
    custom = report_of(objects, agent_namespace="podwarden", agent_selector="app=pw-agent")
    assert found(custom, podchecks.AGENT_MISSING) == {}


# ---- Pod Security ----------------------------------------------------------------------


def test_unlabelled_namespaces_and_pods_that_break_the_enforced_level() -> None:
    objects = cluster(
        ns("locked", labels={"pod-security.kubernetes.io/enforce": "baseline"}),
        pod("old-hostnet", "locked", hostNetwork=True, uid=UID),
        pod("fine", "locked"),
    )
    report = report_of(objects)
    unlabelled = found(report, scan.PSS_UNLABELLED)
    assert "namespace apps" in unlabelled and "namespace locked" not in unlabelled
    existing = [f for f in report.findings if f.check == scan.PSS_EXISTING]
    assert [(f.subject, f.details) for f in existing] == [("namespace locked", ("old-hostnet",))]
    locked = next(n for n in report.namespaces if n.name == "locked")
    restricted, baseline = locked.dry_runs
    assert restricted.violating_pods == 2 and not baseline.evaluated


# ---- the command ---------------------------------------------------------------------------


def write(tmp_path: Path, objects: list[Any]) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [("critical", 0), ("high", 1), ("medium", 1), ("never", 0), ("info", 1)],
)
def test_exit_code_follows_fail_on(tmp_path: Path, fail_on: str, code: int) -> None:
    raw = pod(
        "raw", containers=[{"name": "c", "securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]
    )
    path = write(tmp_path, cluster(raw))
    result = CliRunner().invoke(main, ["audit", "--cluster-file", str(path), "--fail-on", fail_on])
    assert result.exit_code == code, result.output
    assert "pod apps/raw" in result.output


def test_a_clean_cluster_exits_zero_even_at_info(tmp_path: Path) -> None:
    ok = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    objects = [
        ns("apps", labels=labels),
        node("n1"),
        agent("n1"),
        agent_configmap("pod_cgroup: kubepods"),
        pod("web", containers=[{"name": "c", "securityContext": ok}]),
    ]
    objects[2]["metadata"]["namespace"] = "kube-system"
    objects.insert(
        0, ns("kube-system", labels={"pod-security.kubernetes.io/enforce": "privileged"})
    )
    path = write(tmp_path, objects)
    result = CliRunner().invoke(
        main, ["audit", "--cluster-file", str(path), "--fail-on", "low", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["findings"] == [] and data["counts"]["pods"] == 2


def test_json_carries_findings_and_psas_warning_lines(tmp_path: Path) -> None:
    path = write(tmp_path, cluster(pod("web")))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        [
            "audit",
            "--cluster-file",
            str(path),
            "--format",
            "json",
            "--output",
            str(out),
            "--fail-on",
            "never",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    apps = next(n for n in data["namespaces"] if n["name"] == "apps")
    assert apps["dryRun"]["restricted"]["warnings"][0] == (
        'existing pods in namespace "apps" violate the new PodSecurity enforce level '
        '"restricted:latest"'
    )
    assert apps["dryRun"]["baseline"]["warnings"] == []
    assert {"check": "pss-unlabelled", "severity": "low"}.items() <= data["findings"][-1].items()


def test_other_kinds_are_counted_not_lost(tmp_path: Path) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "apps"}}
    path = write(tmp_path, cluster(svc))
    result = CliRunner().invoke(main, ["audit", "--cluster-file", str(path), "--fail-on", "never"])
    assert "note: ignored: 1 Service object(s)" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kind: Pod\nmetadata: {}\n", "document 1: metadata.name: required"),
        ("- 1\n", "expected a Kubernetes object with a kind"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_unusable_files_exit_2_and_say_where(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", "--cluster-file", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output and message in result.output


def test_exactly_one_source_and_a_valid_selector(tmp_path: Path) -> None:
    path = write(tmp_path, cluster())
    both = CliRunner().invoke(main, ["audit", "--cluster-file", str(path), "--in-cluster"])
    assert both.exit_code == 2 and "exactly one of" in both.output
    bad = CliRunner().invoke(
        main, ["audit", "--cluster-file", str(path), "--agent-selector", "a in ("]
    )
    assert bad.exit_code == 2 and "--agent-selector" in bad.output


def test_coverage_rules_on_their_own() -> None:
    coverage = agentconfig.Coverage("kubepods.slice/kubepods-burstable.slice", source="x")
    best = Pod(pod("b", hostNetwork=True))
    assert coverage.catches(best) == (
        False,
        "its QoS class is outside pod_cgroup 'kubepods.slice/kubepods-burstable.slice'",
    )
    burst = Pod(pod("b", hostNetwork=True, qos="Burstable"))
    assert coverage.catches(burst)[0] is True
