"""The lab API server speaks the Kubernetes REST protocol: Status errors, versions,
selectors, patches, watches (replay, bookmarks, 410), tables and persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from podwarden.lab.apiserver.server import ServerThread

from .conftest import pod_body

pytestmark = pytest.mark.peers("kubectl")

PODS = "/api/v1/namespaces/default/pods"


def post_pod(lab, http, body: dict, namespace: str = "default") -> requests.Response:
    return http.post(f"{lab.url}/api/v1/namespaces/{namespace}/pods", json=body)


def watch_events(lab, path: str, params: dict, *, count: int, headers=None) -> list[dict]:
    """The first `count` events of a watch (the server closes it after timeoutSeconds)."""
    params = {"watch": "1", "timeoutSeconds": "3", **params}
    events = []
    with requests.get(
        f"{lab.url}{path}", params=params, stream=True, timeout=5, headers=headers or {}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                events.append(json.loads(line))
            if len(events) >= count:
                break
    return events


# ---- discovery ---------------------------------------------------------------------


def test_discovery_documents(lab, http) -> None:
    assert http.get(f"{lab.url}/version").json()["major"] == "1"
    assert http.get(f"{lab.url}/api").json()["versions"] == ["v1"]
    resources = http.get(f"{lab.url}/api/v1").json()
    names = {r["name"] for r in resources["resources"]}
    assert {
        "pods",
        "pods/status",
        "namespaces",
        "nodes",
        "secrets",
        "configmaps",
        "serviceaccounts",
        "persistentvolumeclaims",
        "persistentvolumes",
        "events",
        "services",
    } <= names
    pods = next(r for r in resources["resources"] if r["name"] == "pods")
    assert pods["namespaced"] and pods["kind"] == "Pod" and "watch" in pods["verbs"]
    groups = http.get(f"{lab.url}/apis").json()
    assert [g["name"] for g in groups["groups"]] == [
        "rbac.authorization.k8s.io",
        "apps",
        "policy",
        "admissionregistration.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
    ]
    assert http.get(f"{lab.url}/openapi/v2").status_code == 404


# ---- Status errors -----------------------------------------------------------------


def test_not_found_status(lab, http) -> None:
    response = http.get(f"{lab.url}{PODS}/nope")
    assert response.status_code == 404
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }


def test_already_exists_and_conflict_statuses(lab, http) -> None:
    created = post_pod(lab, http, pod_body("web")).json()
    again = post_pod(lab, http, pod_body("web"))
    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyExists"
    assert again.json()["message"] == 'pods "web" already exists'
    stale = dict(created, metadata=dict(created["metadata"], resourceVersion="1"))
    response = http.put(f"{lab.url}{PODS}/web", json=stale)
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"
    assert response.json()["message"].startswith('Operation cannot be fulfilled on pods "web"')


def test_invalid_and_bad_request_statuses(lab, http) -> None:
    body = pod_body("web")
    body["spec"]["containers"] = []
    response = post_pod(lab, http, body)
    assert response.status_code == 422
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == 'Pod "web" is invalid: spec.containers: Required value'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]
    bad_name = post_pod(lab, http, pod_body("Not_Valid"))
    assert bad_name.status_code == 422
    assert bad_name.json()["details"]["causes"][0]["field"] == "metadata.name"
    bad_label = post_pod(lab, http, pod_body("web", labels={"app": "no spaces"}))
    assert bad_label.status_code == 422
    elsewhere = pod_body("web")
    elsewhere["metadata"]["namespace"] = "kube-system"
    response = post_pod(lab, http, elsewhere)
    assert response.status_code == 400 and response.json()["reason"] == "BadRequest"
    response = http.get(f"{lab.url}{PODS}", params={"fieldSelector": "spec.bogus=x"})
    assert response.status_code == 400
    assert response.json()["message"] == "field label not supported: spec.bogus"
    response = post_pod(lab, http, pod_body("web"), namespace="nosuch")
    assert response.status_code == 404
    assert response.json()["message"] == 'namespaces "nosuch" not found'


# ---- versions and generation -------------------------------------------------------


def test_versions_uids_and_generation(lab, http) -> None:
    first = post_pod(lab, http, pod_body("a")).json()
    second = post_pod(lab, http, pod_body("b")).json()
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert first["metadata"]["uid"] != second["metadata"]["uid"]
    assert first["metadata"]["creationTimestamp"].endswith("Z")
    assert first["metadata"]["generation"] == 1
    labelled = http.patch(
        f"{lab.url}{PODS}/a",
        data=json.dumps({"metadata": {"labels": {"x": "y"}}}),
        headers={"Content-Type": "application/merge-patch+json"},
    ).json()
    assert labelled["metadata"]["generation"] == 1  # metadata only
    changed = http.patch(
        f"{lab.url}{PODS}/a",
        data=json.dumps({"spec": {"activeDeadlineSeconds": 30}}),
        headers={"Content-Type": "application/merge-patch+json"},
    ).json()
    assert changed["metadata"]["generation"] == 2
    ignored = http.patch(
        f"{lab.url}{PODS}/a",
        data=json.dumps({"status": {"phase": "Failed"}}),
        headers={"Content-Type": "application/merge-patch+json"},
    ).json()
    assert ignored["status"]["phase"] == "Pending"  # status changes only through /status


# ---- patches -----------------------------------------------------------------------


def patch(lab, http, name: str, content_type: str, body) -> dict:
    response = http.patch(
        f"{lab.url}{PODS}/{name}", data=json.dumps(body), headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_three_patch_formats(lab, http) -> None:
    body = pod_body("web", labels={"keep": "1", "drop": "1"})
    body["spec"]["containers"].append({"name": "side", "image": "envoy:1"})
    post_pod(lab, http, body)
    merged = patch(
        lab,
        http,
        "web",
        "application/merge-patch+json",
        {"metadata": {"labels": {"drop": None, "new": "1"}}},
    )
    assert merged["metadata"]["labels"] == {"keep": "1", "new": "1"}
    strategic = patch(
        lab,
        http,
        "web",
        "application/strategic-merge-patch+json",
        {
            "metadata": {"annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "side", "image": "envoy:2"}]},
        },
    )
    assert [(c["name"], c["image"]) for c in strategic["spec"]["containers"]] == [
        ("c", "busybox:1.36"),
        ("side", "envoy:2"),
    ]  # merged by name, not replaced
    removed = patch(
        lab,
        http,
        "web",
        "application/strategic-merge-patch+json",
        {
            "spec": {"containers": [{"name": "side", "$patch": "delete"}]},
        },
    )
    assert [c["name"] for c in removed["spec"]["containers"]] == ["c"]
    json_patched = patch(
        lab,
        http,
        "web",
        "application/json-patch+json",
        [
            {"op": "add", "path": "/metadata/annotations/x~1y", "value": "z"},
            {"op": "remove", "path": "/metadata/labels/keep"},
            {"op": "test", "path": "/metadata/name", "value": "web"},
        ],
    )
    assert json_patched["metadata"]["annotations"] == {"a": "b", "x/y": "z"}
    assert "keep" not in json_patched["metadata"]["labels"]
    response = http.patch(f"{lab.url}{PODS}/web", data="{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


# ---- selectors ---------------------------------------------------------------------


def names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["metadata"]["name"] for item in response.json()["items"])


def test_label_and_field_selectors_on_lists(lab, http) -> None:
    post_pod(lab, http, pod_body("a", node="node-a", ip="10.0.0.1", labels={"tier": "web"}))
    post_pod(lab, http, pod_body("b", node="node-b", ip="10.0.0.2", labels={"tier": "db"}))
    post_pod(lab, http, pod_body("c", node="node-a", labels={"canary": "yes"}))
    every = f"{lab.url}/api/v1/pods"
    assert names(http.get(every, params={"fieldSelector": "spec.nodeName=node-a"})) == ["a", "c"]
    assert names(http.get(every, params={"fieldSelector": "status.podIP=10.0.0.2"})) == ["b"]
    assert names(http.get(every, params={"fieldSelector": "metadata.name!=a"})) == ["b", "c"]
    assert names(http.get(every, params={"fieldSelector": "metadata.namespace=default"})) == [
        "a",
        "b",
        "c",
    ]
    assert names(http.get(every, params={"labelSelector": "tier in (web,db)"})) == ["a", "b"]
    assert names(http.get(every, params={"labelSelector": "tier notin (web)"})) == ["b", "c"]
    assert names(http.get(every, params={"labelSelector": "tier,tier!=db"})) == ["a"]
    assert names(http.get(every, params={"labelSelector": "!tier"})) == ["c"]
    listed = http.get(every).json()
    assert listed["kind"] == "PodList" and "kind" not in listed["items"][0]
    page = http.get(every, params={"limit": "2"}).json()
    assert len(page["items"]) == 2 and page["metadata"]["continue"]
    rest = http.get(every, params={"limit": "2", "continue": page["metadata"]["continue"]}).json()
    assert len(rest["items"]) == 1 and "continue" not in rest["metadata"]


# ---- watch -------------------------------------------------------------------------


def test_watch_replays_from_a_version_then_follows(lab, http) -> None:
    start = post_pod(lab, http, pod_body("a")).json()["metadata"]["resourceVersion"]
    post_pod(lab, http, pod_body("b"))
    http.delete(f"{lab.url}{PODS}/a")
    events = watch_events(lab, PODS, {"resourceVersion": start}, count=2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    initial = watch_events(lab, PODS, {}, count=1)  # no version: current state as ADDED
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [("ADDED", "b")]


def test_watch_with_field_selector_sees_objects_leave_the_selection(lab, http) -> None:
    start = post_pod(lab, http, pod_body("a", ip="10.0.0.1")).json()["metadata"]["resourceVersion"]
    http.patch(
        f"{lab.url}{PODS}/a/status",
        data=json.dumps({"status": {"podIP": "10.0.0.9"}}),
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()
    events = watch_events(
        lab,
        "/api/v1/pods",
        {"resourceVersion": str(int(start) - 1), "fieldSelector": "status.podIP=10.0.0.1"},
        count=2,
    )
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]


def test_bookmarks_carry_the_current_version(lab, http) -> None:
    version = post_pod(lab, http, pod_body("a")).json()["metadata"]["resourceVersion"]
    events = watch_events(
        lab, PODS, {"resourceVersion": version, "allowWatchBookmarks": "true"}, count=1
    )
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": version},
    }


def test_compacted_history_answers_410_expired_as_an_error_event(lab, http) -> None:
    old = post_pod(lab, http, pod_body("a")).json()["metadata"]["resourceVersion"]
    post_pod(lab, http, pod_body("b"))
    assert http.post(f"{lab.url}/lab/compact").status_code == 200
    events = watch_events(lab, PODS, {"resourceVersion": old}, count=1)
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {old} (")
    bad = requests.get(f"{lab.url}{PODS}", params={"watch": "1", "resourceVersion": "x"}, timeout=5)
    assert bad.status_code == 400


# ---- tables ------------------------------------------------------------------------


def test_table_output_for_kubectl(lab, http) -> None:
    post_pod(lab, http, pod_body("web", ip="10.0.0.7"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = http.get(f"{lab.url}{PODS}", headers={"Accept": accept}).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    row = table["rows"][0]
    assert row["cells"][:4] == ["web", "0/1", "Running", 0]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "web"


# ---- namespaces and persistence ----------------------------------------------------


def test_namespace_lifecycle(lab, http) -> None:
    created = http.post(f"{lab.url}/api/v1/namespaces", json={"metadata": {"name": "team"}})
    assert created.status_code == 201
    assert created.json()["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert http.get(f"{lab.url}/api/v1/namespaces/team/serviceaccounts/default").ok
    post_pod(lab, http, pod_body("p"), namespace="team")
    http.delete(f"{lab.url}/api/v1/namespaces/team").raise_for_status()
    assert http.get(f"{lab.url}/api/v1/namespaces/team/pods/p").status_code == 404


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_state_file_survives_a_restart(tmp_path: Path, suffix: str) -> None:
    state = tmp_path / f"state{suffix}"
    with ServerThread(state_file=state) as first:
        created = requests.post(
            f"{first.url}{PODS}", json=pod_body("kept", ip="10.0.0.5"), timeout=5
        ).json()
    with ServerThread(state_file=state) as second:
        kept = requests.get(f"{second.url}{PODS}/kept", timeout=5).json()
        assert kept == created
        newer = requests.post(f"{second.url}{PODS}", json=pod_body("new"), timeout=5).json()
        assert int(newer["metadata"]["resourceVersion"]) > int(
            created["metadata"]["resourceVersion"]
        )


def test_hand_written_state_is_created_in_order(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team}\n"
        "spec: {containers: [{name: c, image: x}]}\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
        encoding="utf-8",
    )
    with ServerThread(state_file=seed) as server:
        pod = requests.get(f"{server.url}/api/v1/namespaces/team/pods/p", timeout=5).json()
        assert pod["metadata"]["uid"] and pod["status"]["phase"] == "Pending"


def test_strategic_merge_directives_kubectl_emits(lab, http) -> None:
    body = pod_body("web")
    body["metadata"]["finalizers"] = ["a/keep", "b/drop"]
    body["spec"]["containers"][0]["env"] = [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]
    body["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    post_pod(lab, http, body)
    smp = "application/strategic-merge-patch+json"
    result = patch(
        lab,
        http,
        "web",
        smp,
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["b/drop"],
                "finalizers": ["c/new"],
            },
            "spec": {
                "$setElementOrder/containers": [{"name": "c"}],
                "containers": [
                    {
                        "name": "c",
                        "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}],
                    }
                ],
                "volumes": [
                    {
                        "name": "data",
                        "$retainKeys": ["name", "hostPath"],
                        "hostPath": {"path": "/tmp"},
                    }
                ],
            },
        },
    )
    assert result["metadata"]["finalizers"] == ["a/keep", "c/new"]
    assert result["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "C", "value": "3"},
    ]
    assert result["spec"]["volumes"] == [{"name": "data", "hostPath": {"path": "/tmp"}}]
    replaced = patch(
        lab,
        http,
        "web",
        smp,
        {
            "spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x:1"}]},
        },
    )
    assert [c["name"] for c in replaced["spec"]["containers"]] == ["only"]


def test_secret_string_data_is_stored_as_base64_data(lab, http) -> None:
    secret = {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    created = http.post(f"{lab.url}/api/v1/namespaces/default/secrets", json=secret).json()
    assert created["data"] == {"password": "aHVudGVyMg=="}
    assert created["type"] == "Opaque" and "stringData" not in created
