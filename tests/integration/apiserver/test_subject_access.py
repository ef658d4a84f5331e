"""The lab API server answers SubjectAccessReviews from a declared table, and only from it.

`podwarden lab apiserver --sar-answers FILE` as a process, asked over HTTP the way the
webhook (and kubectl auth can-i) asks: an exact question gets its declared answer, any
other question a denial that spells out what was asked.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from podwarden.lab.ports import free_port, wait_listening

PODWARDEN = str(Path(sys.executable).parent / "podwarden")
SAR = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
ANSWERS = {
    "answers": [
        {"user": "ann", "groups": ["devs", "system:authenticated"], "verb": "use",
         "group": "policy", "resource": "podsecuritypolicies", "name": "example",
         "namespace": "team", "allowed": True, "reason": "ann may use example"},
        {"user": "ann", "groups": ["devs", "system:authenticated"], "verb": "get",
         "resource": "secrets", "namespace": "team", "allowed": False, "denied": True,
         "reason": "no secrets for ann"},
        {"user": "system:node:n1", "groups": ["system:nodes"], "verb": "get",
         "resource": "configmaps", "name": "c", "namespace": "team", "allowed": True},
        {"user": "probe", "verb": "get", "path": "/healthz", "allowed": True},
    ]
}  # fmt: skip


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    answers = tmp_path_factory.mktemp("sar") / "answers.yaml"
    answers.write_text(yaml.safe_dump(ANSWERS), encoding="utf-8")
    port = free_port()
    argv = [PODWARDEN, "lab", "apiserver", "--listen", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*argv, "--sar-answers", str(answers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening("127.0.0.1", port, timeout=15)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def ask(url: str, spec: dict[str, Any]) -> dict[str, Any]:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    response = requests.post(f"{url}{SAR}", json=body, timeout=10)
    assert response.status_code == 201, response.text
    review: dict[str, Any] = response.json()
    assert review["kind"] == "SubjectAccessReview" and review["spec"] == spec
    status: dict[str, Any] = review["status"]
    return status


def use(user: str, groups: list[str], name: str = "example", **attrs: str) -> dict[str, Any]:
    resource = {"namespace": "team", "verb": "use", "group": "policy",
                "resource": "podsecuritypolicies", "name": name, **attrs}  # fmt: skip
    return {"user": user, "groups": groups, "resourceAttributes": resource}


def test_a_declared_question_gets_its_answer_in_any_group_order(lab_url: str) -> None:
    status = ask(lab_url, use("ann", ["system:authenticated", "devs"]))
    assert status == {"allowed": True, "reason": "ann may use example"}
    declared_no = ask(
        lab_url,
        {"user": "ann", "groups": ["devs", "system:authenticated"],
         "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "secrets"}},
    )  # fmt: skip
    assert declared_no == {"allowed": False, "denied": True, "reason": "no secrets for ann"}
    node = ask(
        lab_url,
        {"user": "system:node:n1", "groups": ["system:nodes"],
         "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "configmaps",
                                "name": "c", "version": "v1"}},
    )  # fmt: skip
    assert node == {"allowed": True, "reason": "declared in the lab's answer table (answers.2)"}
    url = ask(
        lab_url, {"user": "probe", "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    )
    assert url["allowed"] is True


@pytest.mark.parametrize(
    ("spec", "question"),
    [
        # one group fewer than declared
        (use("ann", ["devs"]), "user 'ann', groups ['devs'], verb 'use', group 'policy', "
         "resource 'podsecuritypolicies', name 'example', namespace 'team'"),
        # another policy, another namespace, another group
        (use("ann", ["devs", "system:authenticated"], name="privileged"), "name 'privileged'"),
        (use("ann", ["devs", "system:authenticated"], namespace="prod"), "namespace 'prod'"),
        (use("ann", ["devs", "system:authenticated"], group="extensions"), "group 'extensions'"),
        (use("ann", ["devs", "system:authenticated"], subresource="x"), "subresource 'x'"),
        ({"user": "probe", "nonResourceAttributes": {"path": "/metrics", "verb": "get"}},
         "user 'probe', groups [], verb 'get', path '/metrics'"),
    ],
)  # fmt: skip
def test_anything_undeclared_is_denied_saying_what_was_asked(
    lab_url: str, spec: dict[str, Any], question: str
) -> None:
    status = ask(lab_url, spec)
    assert status["allowed"] is False and "denied" not in status
    assert status["reason"].startswith("the lab's SubjectAccessReview answer table has no entry")
    assert question in status["reason"]
    assert status["reason"].endswith("(unlisted questions are denied)")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "x"}, "expected a SubjectAccessReview with a spec"),
        ({"kind": "SubjectAccessReview", "spec": {"user": "ann"}},
         "spec.resourceAttributes or spec.nonResourceAttributes: required"),
    ],
)  # fmt: skip
def test_a_malformed_review_is_a_bad_request(
    lab_url: str, body: dict[str, Any], message: str
) -> None:
    response = requests.post(f"{lab_url}{SAR}", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"answers": [{"user": "a", "verb": "get", "allowed": True}]},
         "answers.0: Value error, give either resource (a resource request) or path (a URL)"),
        ({"answers": [{"user": "a", "verb": "get", "resource": "pods"}]},
         "answers.0.allowed: Field required"),
        ({"answers": [{"user": "a", "verb": "get", "resource": "pods", "allowed": True,
                       "denied": True}]},
         "answers.0: Value error, allowed and denied cannot both be true"),
        ({"answers": [{"user": "a", "verb": "get", "resource": "pods", "allowed": True},
                      {"user": "a", "verb": "get", "resource": "pods", "allowed": False}]},
         "answers.1: the same question as answers.0 with another answer"),
        ({"answer": []}, "answer: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_bad_answer_file_is_refused_naming_the_key(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(answers), encoding="utf-8")
    result = subprocess.run(
        [PODWARDEN, "lab", "apiserver", "--listen", f"127.0.0.1:{free_port()}",
         "--sar-answers", str(path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2  # a usage error, as every bad setting
    assert f"{path}: {message}" in result.stderr
