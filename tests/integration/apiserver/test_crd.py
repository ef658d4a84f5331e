"""CustomResourceDefinitions in the lab API server: kubectl applies podwarden's CRD and a
policy of it, discovery and routes follow the CRD, and the REST semantics (Status errors,
resourceVersions, watch events, scope) are those of the built-in types."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from podwarden.lab.apiserver.server import ServerThread

from .test_kubectl import kubectl

pytestmark = pytest.mark.peers("kubectl")

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "deploy" / "crds" / "policy.podwarden.io_podsecuritypolicies.yaml"
POLICY_FILE = ROOT / "examples" / "psp-walkthrough" / "policy-crd.yaml"
GROUP = "policy.podwarden.io"
POLICIES = f"/apis/{GROUP}/v1/podsecuritypolicies"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def widget_crd(*, scope: str = "Namespaced", **changes: Any) -> dict[str, Any]:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    crd["spec"].update(changes)
    return crd


def widget(name: str, size: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


@needs_kubectl
def test_kubectl_applies_the_crd_then_a_policy_and_gets_it(lab, kubeconfig: Path) -> None:
    created = kubectl(kubeconfig, "apply", "-f", str(CRD_FILE)).stdout
    assert "customresourcedefinition.apiextensions.k8s.io/" in created and "created" in created
    name = f"crd/podsecuritypolicies.{GROUP}"
    waited = kubectl(kubeconfig, "wait", "--for=condition=Established", name, "--timeout=5s")
    assert "condition met" in waited.stdout
    assert "podsecuritypolicies.policy.podwarden.io" in kubectl(kubeconfig, "get", "crd").stdout

    applied = kubectl(kubeconfig, "apply", "-f", str(POLICY_FILE)).stdout
    assert applied.strip() == "podsecuritypolicy.policy.podwarden.io/example created"
    table = kubectl(kubeconfig, "get", f"podsecuritypolicies.{GROUP}").stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "PRIV",
        "CAPS",
        "SELINUX",
        "RUNASUSER",
        "FSGROUP",
        "SUPGROUP",
        "READONLYROOTFS",
        "VOLUMES",
    ]
    assert table[1].split() == ["example", "false", "RunAsAny"] + ["RunAsAny"] * 3 + ['["*"]']
    # the short name and the category from the CRD's names work too
    assert kubectl(kubeconfig, "get", "pwpsp", "-o", "name").stdout.split() == [
        f"podsecuritypolicy.{GROUP}/example"
    ]
    assert "example" in kubectl(kubeconfig, "get", "podwarden").stdout
    stored = json.loads(kubectl(kubeconfig, "get", "pwpsp", "example", "-o", "json").stdout)
    assert stored["apiVersion"] == f"{GROUP}/v1"
    assert stored["spec"]["requiredDropCapabilities"] == ["SYS_CHROOT", "NET_RAW"]
    assert stored["metadata"]["generation"] == 1

    again = kubectl(kubeconfig, "apply", "-f", str(POLICY_FILE)).stdout
    assert again.strip() == "podsecuritypolicy.policy.podwarden.io/example unchanged"
    kubectl(
        kubeconfig,
        "patch",
        "pwpsp",
        "example",
        "--type=merge",
        "-p",
        '{"spec":{"privileged":true}}',
    )
    patched = json.loads(kubectl(kubeconfig, "get", "pwpsp", "example", "-o", "json").stdout)
    assert patched["spec"]["privileged"] is True
    assert patched["metadata"]["generation"] == 2
    assert int(patched["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])

    kubectl(kubeconfig, "delete", "pwpsp", "example")
    assert kubectl(kubeconfig, "get", "pwpsp", "-o", "name").stdout.strip() == ""
    missing = kubectl(kubeconfig, "get", "pwpsp", "example", check=False)
    assert missing.returncode != 0
    assert 'podsecuritypolicies.policy.podwarden.io "example" not found' in missing.stderr


@needs_kubectl
def test_kubectl_shows_why_a_crd_is_invalid(lab, kubeconfig: Path, tmp_path: Path) -> None:
    bad = widget_crd(scope="Global")
    bad["metadata"]["name"] = "gadgets.example.com"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    refused = kubectl(kubeconfig, "apply", "-f", str(path), check=False)
    assert refused.returncode != 0
    assert 'The CustomResourceDefinition "gadgets.example.com" is invalid' in refused.stderr
    assert 'metadata.name: Invalid value: "gadgets.example.com": must be ' in refused.stderr
    assert 'spec.scope: Unsupported value: "Global"' in refused.stderr


def test_discovery_and_routes_follow_the_crd(lab, http: requests.Session) -> None:
    assert http.get(f"{lab.url}/apis/example.com").status_code == 404
    assert http.get(f"{lab.url}/apis/example.com/v1/widgets").status_code == 404
    response = http.post(f"{lab.url}{CRDS}", json=widget_crd())
    assert response.status_code == 201, response.text
    crd = response.json()
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["storedVersions"] == ["v1"]

    groups = http.get(f"{lab.url}/apis").json()["groups"]
    assert {
        "name": "example.com",
        "versions": [{"groupVersion": "example.com/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "example.com/v1", "version": "v1"},
    } in groups
    assert http.get(f"{lab.url}/apis/example.com").json()["preferredVersion"]["version"] == "v1"
    resources = http.get(f"{lab.url}/apis/example.com/v1").json()["resources"]
    assert [(r["name"], r["namespaced"], r["kind"]) for r in resources] == [
        ("widgets", True, "Widget"),
        ("widgets/status", True, "Widget"),
    ]
    assert resources[0]["singularName"] == "widget"
    openapi = http.get(f"{lab.url}/openapi/v3").json()["paths"]
    assert "apis/example.com/v1" in openapi

    # namespaced: created in a namespace, listed per namespace and across all of them
    base = f"{lab.url}/apis/example.com/v1"
    http.post(f"{lab.url}/api/v1/namespaces", json={"metadata": {"name": "team"}})
    assert http.post(f"{base}/namespaces/default/widgets", json=widget("a")).status_code == 201
    assert http.post(f"{base}/namespaces/team/widgets", json=widget("b")).status_code == 201
    everywhere = http.get(f"{base}/widgets").json()
    assert everywhere["kind"] == "WidgetList"
    assert [i["metadata"]["namespace"] for i in everywhere["items"]] == ["default", "team"]
    assert len(http.get(f"{base}/namespaces/team/widgets").json()["items"]) == 1
    assert http.get(f"{base}/widgets/a").status_code == 404  # namespaced: no cluster path
    nowhere = http.post(f"{base}/namespaces/ghost/widgets", json=widget("c"))
    assert nowhere.status_code == 404 and nowhere.json()["reason"] == "NotFound"

    # /status is the only way to write status; the main resource keeps it
    current = http.get(f"{base}/namespaces/team/widgets/b").json()
    current["status"] = {"ready": True}
    assert http.put(f"{base}/namespaces/team/widgets/b/status", json=current).status_code == 200
    current = http.get(f"{base}/namespaces/team/widgets/b").json()
    current["status"] = {"ready": False}
    current["spec"]["size"] = 3
    updated = http.put(f"{base}/namespaces/team/widgets/b", json=current).json()
    assert updated["status"] == {"ready": True} and updated["metadata"]["generation"] == 2

    # a namespace takes its custom objects with it
    http.delete(f"{lab.url}/api/v1/namespaces/team")
    assert [i["metadata"]["name"] for i in http.get(f"{base}/widgets").json()["items"]] == ["a"]

    # deleting the CRD deletes its objects and stops serving it
    assert http.delete(f"{lab.url}{CRDS}/widgets.example.com").status_code == 200
    assert http.get(f"{base}/widgets").status_code == 404
    assert http.get(f"{lab.url}/apis/example.com").status_code == 404
    assert "example.com" not in [g["name"] for g in http.get(f"{lab.url}/apis").json()["groups"]]
    http.post(f"{lab.url}{CRDS}", json=widget_crd())
    assert http.get(f"{base}/widgets").json()["items"] == []  # nothing came back with it


def test_status_errors_and_resource_versions(lab, http: requests.Session) -> None:
    http.post(f"{lab.url}{CRDS}", json=widget_crd(scope="Cluster"))
    base = f"{lab.url}/apis/example.com/v1/widgets"
    missing = http.get(f"{base}/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'widgets.example.com "nope" not found'
    assert missing.json()["details"] == {"name": "nope", "kind": "widgets", "group": "example.com"}
    first = http.post(base, json=widget("w")).json()
    duplicate = http.post(base, json=widget("w"))
    assert duplicate.status_code == 409 and duplicate.json()["reason"] == "AlreadyExists"
    stale = dict(first, spec={"size": 2})
    assert http.put(f"{base}/w", json=stale).status_code == 200
    conflict = http.put(f"{base}/w", json=dict(first, spec={"size": 5}))
    assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"
    assert http.get(f"{lab.url}/apis/example.com/v1/namespaces/default/widgets").status_code == 404
    bad_name = http.post(base, json=widget("Not_A_Name"))
    assert bad_name.status_code == 422 and bad_name.json()["details"]["kind"] == "Widget"


def test_a_watch_sees_every_change_in_order(lab, http: requests.Session) -> None:
    http.post(f"{lab.url}{CRDS}", json=widget_crd(scope="Cluster"))
    base = f"{lab.url}/apis/example.com/v1/widgets"
    listed = http.get(base).json()["metadata"]["resourceVersion"]
    events: list[dict[str, Any]] = []

    def watch() -> None:
        params = {"watch": "1", "resourceVersion": listed, "timeoutSeconds": "3"}
        with requests.get(base, params=params, stream=True, timeout=10) as stream:
            for line in stream.iter_lines():
                events.append(json.loads(line))
                if len(events) == 3:
                    return

    reader = threading.Thread(target=watch)
    reader.start()
    created = http.post(base, json=widget("w")).json()
    http.put(f"{base}/w", json=dict(created, spec={"size": 9}))
    http.delete(f"{base}/w")
    reader.join(timeout=10)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["spec"] == {"size": 9}
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(listed)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"group": "example"}, "spec.group", "should be a domain with at least one dot"),
        ({"names": {"plural": "widgets"}}, "spec.names.kind", "Required value"),
        ({"versions": []}, "spec.versions", "Required value"),
        (
            {"versions": [{"name": "v1", "served": True, "storage": False}]},
            "spec.versions",
            "must have exactly one version marked as storage version",
        ),
    ],
)
def test_invalid_crds_name_the_field(
    lab, http: requests.Session, change: dict[str, Any], field: str, words: str
) -> None:
    crd = widget_crd(**change)
    if "group" in change:
        crd["metadata"]["name"] = "widgets.example"
    refused = http.post(f"{lab.url}{CRDS}", json=crd)
    assert refused.status_code == 422, refused.text
    causes = refused.json()["details"]["causes"]
    assert any(c["field"] == field and words in c["message"] for c in causes), causes


def test_protected_groups_need_approval_and_scope_is_immutable(lab, http) -> None:
    crd = widget_crd(group="things.k8s.io")
    crd["metadata"]["name"] = "widgets.things.k8s.io"
    refused = http.post(f"{lab.url}{CRDS}", json=crd)
    assert refused.status_code == 422
    assert "protected groups must have approval annotation" in refused.text
    created = http.post(f"{lab.url}{CRDS}", json=widget_crd()).json()
    created["spec"]["scope"] = "Cluster"
    immutable = http.put(f"{lab.url}{CRDS}/widgets.example.com", json=created)
    assert immutable.status_code == 422
    assert 'spec.scope: Invalid value: "Cluster": field is immutable' in immutable.json()["message"]


def test_a_restarted_lab_keeps_its_crds_and_objects(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with ServerThread(state_file=state) as first:
        requests.post(f"{first.url}{CRDS}", json=widget_crd(scope="Cluster"), timeout=5)
        requests.post(f"{first.url}/apis/example.com/v1/widgets", json=widget("kept"), timeout=5)
    with ServerThread(state_file=state) as second:
        items = requests.get(f"{second.url}/apis/example.com/v1/widgets", timeout=5).json()
        assert [i["metadata"]["name"] for i in items["items"]] == ["kept"]


def test_a_seed_file_may_carry_a_crd_and_its_objects(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    policy = POLICY_FILE.read_text()
    seed.write_text(policy + "\n---\n" + CRD_FILE.read_text())  # objects before their CRD
    with ServerThread(state_file=seed) as lab:
        items = requests.get(f"{lab.url}{POLICIES}", timeout=5).json()["items"]
        assert [i["metadata"]["name"] for i in items] == ["example"]
