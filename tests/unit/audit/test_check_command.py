"""`podwarden check` end to end through click: inputs, formats, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from podwarden.cli import main

CLEAN = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "clean", "namespace": "team"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "image": "x",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    },
}
PRIVILEGED = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "priv"},
    "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]},
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "team"},
    "spec": {
        "template": {"metadata": {}, "spec": {"hostNetwork": True, "containers": [{"name": "c"}]}}
    },
}


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["check", *args], input=stdin, catch_exceptions=False)


def write(tmp_path: Path, name: str, *docs: object) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def test_json_output_fields_and_exit_1_when_refused(tmp_path):
    path = write(tmp_path, "pods.yaml", CLEAN, PRIVILEGED)
    result = run("--level", "baseline", "--version", "v1.30", "--format", "json", path)
    assert result.exit_code == 1
    rows = json.loads(result.output)
    assert [
        set(r)
        >= {
            "file",
            "kind",
            "namespace",
            "name",
            "allowed",
            "reasons",
            "policy",
            "patch",
            "warnings",
        }
        for r in rows
    ] == [True, True]
    clean, priv = rows
    assert (clean["name"], clean["namespace"], clean["allowed"], clean["reasons"]) == (
        "clean",
        "team",
        True,
        [],
    )
    assert priv["allowed"] is False and priv["namespace"] == "default"
    assert priv["reasons"] == [
        'privileged (container "c" must not set securityContext.privileged=true)'
    ]
    assert priv["policy"] == "baseline:v1.30" and priv["patch"] is None and priv["file"] == path
    assert priv["line"] > clean["line"] == 1


def test_exit_0_when_everything_admitted(tmp_path):
    result = run("--level", "restricted", write(tmp_path, "ok.yaml", CLEAN))
    assert result.exit_code == 0, result.output
    assert "1 checked, 0 refused" in result.output


def test_workloads_warn_by_default_and_refuse_on_request(tmp_path):
    path = write(tmp_path, "deploy.yaml", DEPLOYMENT)
    warned = run("--level", "baseline", "--format", "json", path)
    assert warned.exit_code == 0
    (row,) = json.loads(warned.output)
    assert row["allowed"] is True
    assert row["warnings"] == [
        'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)'
    ]
    refused = run("--level", "baseline", "--workloads", "refuse", "--format", "json", path)
    assert refused.exit_code == 1
    assert json.loads(refused.output)[0]["reasons"] == ["host namespaces (hostNetwork=true)"]


def test_stdin_json_list_kind_and_folders(tmp_path):
    listed = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [CLEAN, PRIVILEGED, {"kind": "Service", "metadata": {"name": "s"}}],
        }
    )
    result = run("--level", "baseline", "--format", "json", "-", stdin=listed)
    assert [r["name"] for r in json.loads(result.output)] == ["clean", "priv"]
    folder = tmp_path / "manifests" / "nested"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps([CLEAN, PRIVILEGED]))
    (folder / "b.yml").write_text(yaml.safe_dump({"kind": "PodList", "items": [PRIVILEGED]}))
    (folder / "notes.txt").write_text("not a manifest")
    rows = json.loads(
        run("--level", "baseline", "--format", "json", str(tmp_path / "manifests")).output
    )
    assert [(Path(r["file"]).name, r["name"]) for r in rows] == [
        ("a.json", "clean"),
        ("a.json", "priv"),
        ("b.yml", "priv"),
    ]


def test_list_items_point_at_their_own_lines(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump({"kind": "List", "items": [CLEAN, PRIVILEGED]}, sort_keys=False))
    rows = json.loads(run("--level", "baseline", "--format", "json", str(path)).output)
    lines = path.read_text().splitlines()
    assert "name: priv" in "\n".join(lines[rows[1]["line"] - 1 : rows[1]["line"] + 3])
    assert rows[0]["line"] < rows[1]["line"]


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.yaml", "kind: Pod\nmetadata:\n  name: [unclosed\n", ":4:"),
        ("bad.json", '{"kind": "Pod",\n "metadata": }', ":2:"),
        ("scalar.yaml", "just a string\n", ":1:"),
    ],
)
def test_unreadable_input_exits_2_with_file_and_line(tmp_path, name, text, where):
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(main, ["check", "--level", "baseline", str(path)])
    assert result.exit_code == 2
    assert f"{path}{where}" in result.output


def test_missing_file_and_bad_version_exit_2(tmp_path):
    assert run("--level", "baseline", str(tmp_path / "nope.yaml")).exit_code == 2
    bad = run("--level", "baseline", "--version", "1.30", write(tmp_path, "ok.yaml", CLEAN))
    assert bad.exit_code == 2 and "invalid version" in bad.output


def test_level_or_policy_required(tmp_path):
    assert run(write(tmp_path, "ok.yaml", CLEAN)).exit_code == 2


def test_sarif_shape(tmp_path):
    path = write(tmp_path, "pods.yaml", CLEAN, PRIVILEGED, DEPLOYMENT)
    result = run("--level", "restricted", "--format", "sarif", path)
    assert result.exit_code == 1
    log = json.loads(result.output)
    assert log["version"] == "2.1.0"
    run0 = log["runs"][0]
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    assert (
        len(rule_ids) == len(set(rule_ids))
        and "privileged" in rule_ids
        and "hostNamespaces" in rule_ids
    )
    for res in run0["results"]:
        assert res["ruleId"] in rule_ids
        assert res["level"] in ("error", "warning")
        assert res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == path and loc["region"]["startLine"] >= 1
    levels = {(r["ruleId"], r["level"]) for r in run0["results"]}
    assert ("privileged", "error") in levels and ("hostNamespaces", "warning") in levels


def test_table_names_the_refusal(tmp_path):
    result = run("--level", "baseline", write(tmp_path, "pods.yaml", PRIVILEGED))
    assert "refused" in result.output and 'privileged (container "c" must not set' in result.output


WALKTHROUGH_PSP = {
    "apiVersion": "policy/v1beta1",
    "kind": "PodSecurityPolicy",
    "metadata": {"name": "example"},
    "spec": {
        "privileged": False,
        "seLinux": {"rule": "RunAsAny"},
        "supplementalGroups": {"rule": "RunAsAny"},
        "runAsUser": {"rule": "RunAsAny"},
        "fsGroup": {"rule": "RunAsAny"},
        "volumes": ["*"],
        "requiredDropCapabilities": ["SYS_CHROOT", "NET_RAW"],
    },
}
ROOTFS = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "rootfs", "namespace": "demo"},
    "spec": {
        "containers": [
            {
                "name": "shell",
                "image": "busybox",
                "volumeMounts": [{"name": "root", "mountPath": "/rootfs"}],
            }
        ],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    },
}


def test_policy_mode_delegates_to_psp_engine(tmp_path):
    """The classic walkthrough through `check`: hostPath pod admitted with drops patched in,
    privileged pod refused in PSP's words. (Integration with the PSP engine, H7.)"""
    policy = write(tmp_path, "psp.yaml", WALKTHROUGH_PSP)
    pods = write(tmp_path, "pods.yaml", ROOTFS, PRIVILEGED)
    result = run("--policy", policy, "--format", "json", pods)
    assert result.exit_code == 1
    rootfs, priv = json.loads(result.output)
    assert rootfs["allowed"] is True and rootfs["policy"] == "example"
    drops = [op for op in rootfs["patch"] if "securityContext" in op["path"]]
    assert "SYS_CHROOT" in json.dumps(drops) and "NET_RAW" in json.dumps(drops)
    assert priv["allowed"] is False and priv["policy"] is None
    assert priv["reasons"] == [
        "spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed"  # noqa: E501
    ]


def test_policy_mode_workload_patch_is_rooted_at_the_template(tmp_path):
    policy = write(tmp_path, "psp.yaml", WALKTHROUGH_PSP)
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"metadata": {}, "spec": ROOTFS["spec"]}},
    }
    (row,) = json.loads(
        run("--policy", policy, "--format", "json", write(tmp_path, "d.yaml", deploy)).output
    )
    assert row["allowed"] is True
    assert all(op["path"].startswith("/spec/template/") for op in row["patch"])


def test_bad_policy_file_exits_2(tmp_path):
    bad = dict(WALKTHROUGH_PSP, apiVersion="v1")
    result = CliRunner().invoke(
        main,
        ["check", "--policy", write(tmp_path, "psp.yaml", bad), write(tmp_path, "p.yaml", CLEAN)],
    )
    assert result.exit_code == 2 and "apiVersion" in result.output


def test_policy_mode_allowed_host_paths_read_only_refuses_root_mount(tmp_path):
    """Walkthrough, third step: the same hostPath pod under allowedHostPaths [/var/log]."""
    spec = dict(
        WALKTHROUGH_PSP["spec"], allowedHostPaths=[{"pathPrefix": "/var/log", "readOnly": True}]
    )
    policy = write(tmp_path, "psp.yaml", dict(WALKTHROUGH_PSP, spec=spec))
    result = run("--policy", policy, "--format", "json", write(tmp_path, "pod.yaml", ROOTFS))
    assert result.exit_code == 1
    (row,) = json.loads(result.output)
    assert row["allowed"] is False
    assert any("spec.volumes[0].hostPath.pathPrefix" in reason for reason in row["reasons"]), row


def test_empty_documents_and_non_pod_kinds_are_skipped(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text("---\n---\nkind: ConfigMap\nmetadata: {name: c}\n---\n" + yaml.safe_dump(CLEAN))
    rows = json.loads(run("--level", "restricted", "--format", "json", str(path)).output)
    assert [(r["name"], r["line"]) for r in rows] == [("clean", 6)]


ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "use-example", "namespace": "demo"},
    "rules": [
        {
            "apiGroups": ["policy"],
            "resources": ["podsecuritypolicies"],
            "verbs": ["use"],
            "resourceNames": ["example"],
        }
    ],
}
BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "alice-uses-example", "namespace": "demo"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "use-example"},
    "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
}
NO_POLICY = "PodSecurityPolicy: unable to admit pod: []"


def test_policy_mode_rbac_selection_by_user_and_the_refusal_says_why(tmp_path):
    """RBAC in the inputs decides which policies are usable: alice is bound to the
    policy, bob is not. A refusal for want of a usable policy still names a reason
    in every format (PSP's own message), never an empty list."""
    policy = write(tmp_path, "psp.yaml", WALKTHROUGH_PSP, ROLE, BINDING)
    pods = write(tmp_path, "pod.yaml", ROOTFS)
    allowed = run("--policy", policy, "--user", "alice", "--format", "json", pods)
    assert allowed.exit_code == 0, allowed.output
    (row,) = json.loads(allowed.output)
    assert (row["allowed"], row["policy"]) == (True, "example")

    refused = run("--policy", policy, "--user", "bob", "--format", "json", pods)
    assert refused.exit_code == 1
    (row,) = json.loads(refused.output)
    assert (row["allowed"], row["policy"], row["reasons"]) == (False, None, [NO_POLICY])

    table = run("--policy", policy, "--user", "bob", pods)
    assert table.exit_code == 1
    (line,) = [x for x in table.output.splitlines() if x.startswith("refused")]
    assert line.endswith(NO_POLICY)

    sarif = json.loads(run("--policy", policy, "--user", "bob", "--format", "sarif", pods).output)
    (result,) = sarif["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("PodSecurityPolicy", "error")
    assert result["message"]["text"] == f"Pod demo/rootfs: {NO_POLICY}"
