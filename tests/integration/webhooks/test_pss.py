"""Pod Security Standards through the webhook: conformance pods, namespace labels, scope."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from podwarden.podsecurity import evaluate
from podwarden.podsecurity.levels import level_version
from tests.conformance.test_pss_fixtures import _acceptable_ids
from tests.integration.webhooks.conftest import Starter, namespace, review, write_yaml
from tests.support import conformance

DATA = conformance.data_dir()
SAMPLE = [
    ("baseline", "v1.0"),
    ("baseline", "v1.24"),
    ("baseline", "v1.30"),
    ("restricted", "v1.8"),
    ("restricted", "v1.25"),
    ("restricted", "v1.33"),
]
PER_FOLDER = 6
_STEM = re.compile(r"^(.*?)\d*$")


def _label(level: str, version: str) -> str:
    return f"{level}-{version.replace('.', '-')}"


def _sample() -> list[tuple[str, str, str, Path]]:
    cases = []
    for level, version in SAMPLE:
        for outcome in ("pass", "fail"):
            files = sorted((DATA / level / version / outcome).glob("*.yaml"))
            step = max(1, len(files) // PER_FOLDER)
            cases += [(level, version, outcome, f) for f in files[::step][:PER_FOLDER]]
    return cases


async def test_conformance_sample_through_the_webhook(start_webhook: Starter) -> None:
    if not DATA.is_dir():
        pytest.fail(conformance.missing_message(DATA))
    cluster = [
        namespace(
            _label(level, version),
            **{
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/enforce-version": version,
            },
        )
        for level, version in SAMPLE
    ]
    client = await start_webhook(cluster=cluster)
    cases = _sample()
    assert len(cases) >= 60
    problems = []
    for level, version, outcome, path in cases:
        pod = yaml.safe_load(path.read_text())
        ns = _label(level, version)
        answer = await client.post("/validate", review(pod, namespace=ns))
        expected = evaluate.evaluate(pod, level_version(level, version))
        where = f"{level}/{version}/{outcome}/{path.name}"
        if outcome == "pass":
            if not answer["allowed"]:
                problems.append(f"{where}: refused: {answer['status']}")
            continue
        check = _STEM.match(path.stem).group(1)  # type: ignore[union-attr]
        message = answer["status"].get("message", "")
        if answer["allowed"] or answer["status"]["code"] != 403:
            problems.append(f"{where}: not refused: {answer}")
        elif message != expected.message():
            problems.append(f"{where}: message {message!r} != {expected.message()!r}")
        elif not message.startswith(f'violates PodSecurity "{level}:{version}": '):
            problems.append(f"{where}: message does not name the policy: {message}")
        elif not {c.lower() for c in expected.check_ids} & _acceptable_ids(
            check, expected.level_version.version.minor
        ):
            problems.append(f"{where}: refused, but not by {check}: {expected.check_ids}")
        assert answer["auditAnnotations"]["enforce-policy"] == f"{level}:{version}"
    assert not problems, "\n".join(problems)


PRIVILEGED_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]},
}


async def test_namespace_label_changes_in_the_cluster_file(
    start_webhook: Starter, tmp_path: Path
) -> None:
    client = await start_webhook(cluster=[namespace("team")])
    assert (await client.post("/validate", review(PRIVILEGED_POD, namespace="team")))["allowed"]
    cluster_file = tmp_path / "cluster-0.yaml"
    write_yaml(
        cluster_file, [namespace("team", **{"pod-security.kubernetes.io/enforce": "baseline"})]
    )
    for _ in range(100):
        answer = await client.post("/validate", review(PRIVILEGED_POD, namespace="team"))
        if not answer["allowed"]:
            break
        await asyncio.sleep(0.05)
    assert not answer["allowed"]
    assert answer["status"]["message"] == (
        'violates PodSecurity "baseline:latest": privileged '
        '(container "c" must not set securityContext.privileged=true)'
    )
    # warn follows a stricter enforce: a baseline namespace warns nothing extra here.
    write_yaml(
        cluster_file,
        [namespace("team", **{"pod-security.kubernetes.io/warn": "baseline"})],
    )
    for _ in range(100):
        answer = await client.post("/validate", review(PRIVILEGED_POD, namespace="team"))
        if answer["allowed"]:
            break
        await asyncio.sleep(0.05)
    assert answer["allowed"]
    assert answer["warnings"] == [
        'would violate PodSecurity "baseline:latest": privileged '
        '(container "c" must not set securityContext.privileged=true)'
    ]


async def test_unknown_namespace_is_refused(start_webhook: Starter) -> None:
    client = await start_webhook(cluster=[namespace("default")])
    answer = await client.post("/validate", review(PRIVILEGED_POD, namespace="nowhere"))
    assert not answer["allowed"]
    assert answer["status"]["code"] == 500
    assert answer["status"]["message"] == 'failed to lookup namespace "nowhere"'


async def test_subresources_other_than_ephemeral_containers_are_not_judged(
    start_webhook: Starter,
) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    client = await start_webhook(cluster=[namespace("team", **labels)])
    for sub in ("status", "binding", "exec"):
        body = review(PRIVILEGED_POD, namespace="team", operation="UPDATE", sub_resource=sub)
        assert (await client.post("/validate", body))["allowed"], sub
    body = review(
        PRIVILEGED_POD, namespace="team", operation="UPDATE", sub_resource="ephemeralcontainers"
    )
    assert not (await client.post("/validate", body))["allowed"]
    # DELETE is never judged
    body = review(PRIVILEGED_POD, namespace="team", operation="DELETE")
    assert (await client.post("/validate", body))["allowed"]


async def test_update_that_only_relabels_passes(start_webhook: Starter) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    client = await start_webhook(cluster=[namespace("team", **labels)])
    relabelled = {**PRIVILEGED_POD, "metadata": {"name": "p", "labels": {"a": "b"}}}
    body = review(relabelled, namespace="team", operation="UPDATE", old=PRIVILEGED_POD)
    assert (await client.post("/validate", body))["allowed"]
    changed = yaml.safe_load(yaml.safe_dump(PRIVILEGED_POD))
    changed["spec"]["containers"][0]["image"] = "y"
    body = review(changed, namespace="team", operation="UPDATE", old=PRIVILEGED_POD)
    assert not (await client.post("/validate", body))["allowed"]


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "namespace": "team"},
    "spec": {"template": {"metadata": {}, "spec": PRIVILEGED_POD["spec"]}},
}


@pytest.mark.parametrize("mode", ["warn", "refuse"])
async def test_workloads_warn_by_default_and_refuse_when_configured(
    start_webhook: Starter, mode: str
) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    client = await start_webhook(cluster=[namespace("team", **labels)], config={"workloads": mode})
    body = review(
        DEPLOYMENT, namespace="team", resource=("apps", "v1", "deployments"), kind="Deployment"
    )
    answer = await client.post("/validate", body)
    detail = 'privileged (container "c" must not set securityContext.privileged=true)'
    if mode == "warn":
        assert answer["allowed"]
        assert answer["warnings"] == [f'would violate PodSecurity "baseline:latest": {detail}']
    else:
        assert not answer["allowed"]
        assert answer["status"]["message"] == f'violates PodSecurity "baseline:latest": {detail}'
    scale = review(
        DEPLOYMENT,
        namespace="team",
        resource=("apps", "v1", "deployments"),
        kind="Deployment",
        sub_resource="scale",
        operation="UPDATE",
    )
    assert (await client.post("/validate", scale))["allowed"]


async def test_exempt_namespace_and_config_defaults(start_webhook: Starter) -> None:
    config = {"pss": {"enforce": "baseline"}, "exemptions": {"namespaces": ["ops"]}}
    client = await start_webhook(cluster=[namespace("team"), namespace("ops")], config=config)
    refused = await client.post("/validate", review(PRIVILEGED_POD, namespace="team"))
    assert not refused["allowed"]
    assert refused["status"]["message"].startswith('violates PodSecurity "baseline:latest"')
    exempt = await client.post("/validate", review(PRIVILEGED_POD, namespace="ops"))
    assert exempt["allowed"]
    assert exempt["auditAnnotations"] == {"exempt": "namespace"}


async def test_tenant_preset(start_webhook: Starter) -> None:
    client = await start_webhook(cluster=[namespace("team")], config={"mode": "tenant"})
    pod = yaml.safe_load(yaml.safe_dump(PRIVILEGED_POD))
    pod["spec"]["hostNetwork"] = True
    answer = await client.post("/validate", review(pod, namespace="team"))
    assert not answer["allowed"]
    assert "tenant: hostNetwork=true is not allowed" in answer["status"]["message"]
    assert 'violates PodSecurity "restricted:latest"' in answer["status"]["message"]


# ---- PSA fidelity: exemptions, lookups, label errors, audit and warn (issue 5) ----

BASELINE_DETAIL = 'privileged (container "c" must not set securityContext.privileged=true)'
DEPLOY_REVIEW: dict[str, Any] = {"resource": ("apps", "v1", "deployments"), "kind": "Deployment"}
RESTRICTED_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "ok"},
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


async def test_pod_warn_label_warns_and_audit_label_records_violations(
    start_webhook: Starter,
) -> None:
    labels = {
        "pod-security.kubernetes.io/warn": "baseline",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.30",
    }
    client = await start_webhook(cluster=[namespace("team", **labels)])
    answer = await client.post("/validate", review(PRIVILEGED_POD, namespace="team"))
    assert answer["allowed"]
    assert answer["warnings"] == [f'would violate PodSecurity "baseline:latest": {BASELINE_DETAIL}']
    audit = answer["auditAnnotations"]
    assert audit["enforce-policy"] == "privileged:latest"
    assert audit["audit-violations"].startswith(
        'would violate PodSecurity "restricted:v1.30": privileged ('
    )
    assert "allowPrivilegeEscalation != false" in audit["audit-violations"]


async def test_workload_gets_audit_and_warn_but_never_the_enforce_level(
    start_webhook: Starter,
) -> None:
    """PSA's pod-controller path evaluates only warn and audit: an enforce label alone
    (warn and audit explicitly privileged) adds nothing to a Deployment."""
    quiet = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "privileged",
    }
    audited = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "privileged",
        "pod-security.kubernetes.io/audit": "baseline",
    }
    client = await start_webhook(cluster=[namespace("quiet", **quiet), namespace("aud", **audited)])
    answer = await client.post(
        "/validate",
        review({**DEPLOYMENT, "metadata": {"name": "d"}}, namespace="quiet", **DEPLOY_REVIEW),
    )
    assert answer["allowed"]
    assert not answer.get("warnings")
    assert not answer.get("auditAnnotations")
    answer = await client.post(
        "/validate",
        review({**DEPLOYMENT, "metadata": {"name": "d"}}, namespace="aud", **DEPLOY_REVIEW),
    )
    assert answer["allowed"]
    assert not answer.get("warnings")
    assert answer["auditAnnotations"] == {
        "audit-violations": f'would violate PodSecurity "baseline:latest": {BASELINE_DETAIL}'
    }


@pytest.mark.parametrize("mode", ["warn", "refuse"])
async def test_workload_in_a_namespace_not_in_the_view(start_webhook: Starter, mode: str) -> None:
    """PSA admits a pod controller whose namespace it cannot look up, with an `error`
    audit annotation; when workloads are refused, the lookup failure fails closed."""
    client = await start_webhook(cluster=[namespace("default")], config={"workloads": mode})
    answer = await client.post("/validate", review(DEPLOYMENT, namespace="new", **DEPLOY_REVIEW))
    if mode == "warn":
        assert answer["allowed"]
        assert answer["auditAnnotations"] == {
            "error": 'failed to lookup namespace "new": namespace "new" not found'
        }
    else:
        assert not answer["allowed"]
        assert answer["status"]["code"] == 500
        assert answer["status"]["message"] == 'failed to lookup namespace "new"'


async def test_workload_without_a_readable_template(start_webhook: Starter) -> None:
    labels = {"pod-security.kubernetes.io/warn": "baseline"}
    client = await start_webhook(cluster=[namespace("team", **labels)])
    broken = {**DEPLOYMENT, "spec": {"template": "nope"}}
    answer = await client.post("/validate", review(broken, namespace="team", **DEPLOY_REVIEW))
    assert answer["allowed"]
    assert answer["auditAnnotations"] == {
        "error": "failed to extract pod template: "
        "Deployment: the pod template is missing or not an object"
    }


async def test_exemptions_come_before_the_namespace_lookup(start_webhook: Starter) -> None:
    config = {"exemptions": {"namespaces": ["ops"], "usernames": ["ci-bot"]}}
    client = await start_webhook(cluster=[namespace("default")], config=config)
    for body, why in (
        (review(PRIVILEGED_POD, namespace="ops"), "namespace"),
        (review(DEPLOYMENT, namespace="ops", **DEPLOY_REVIEW), "namespace"),
        (review(PRIVILEGED_POD, namespace="absent", user="ci-bot"), "user"),
    ):
        answer = await client.post("/validate", body)
        assert answer["allowed"], answer
        assert answer["auditAnnotations"] == {"exempt": why}


async def test_bad_namespace_labels_become_the_error_audit_annotation(
    start_webhook: Starter,
) -> None:
    """An unparseable enforce level means restricted, and PSA records why."""
    labels = {"pod-security.kubernetes.io/enforce": "strict"}
    client = await start_webhook(cluster=[namespace("team", **labels)])
    answer = await client.post("/validate", review(RESTRICTED_POD, namespace="team"))
    assert answer["allowed"]
    audit = answer["auditAnnotations"]
    assert audit["enforce-policy"] == "restricted:latest"
    assert audit["error"] == (
        "Failed to parse policy: pod-security.kubernetes.io/enforce: invalid level 'strict': "
        "must be one of privileged, baseline, restricted"
    )
    refused = await client.post("/validate", review(PRIVILEGED_POD, namespace="team"))
    assert not refused["allowed"]
    assert refused["status"]["message"].startswith('violates PodSecurity "restricted:latest"')
    # A workload there is evaluated too (no privileged short-circuit with label errors).
    workload = await client.post("/validate", review(DEPLOYMENT, namespace="team", **DEPLOY_REVIEW))
    assert workload["allowed"]
    assert workload["auditAnnotations"]["error"].startswith("Failed to parse policy: ")
    assert "enforce-policy" not in workload["auditAnnotations"]


async def test_tenant_identity_guard_through_the_webhook(start_webhook: Starter) -> None:
    allowed_roles = {"iam.amazonaws.com/allowed-roles": '["arn:aws:iam::123456789012:role/app-*"]'}
    team = namespace("team")
    team["metadata"]["annotations"] = allowed_roles
    client = await start_webhook(cluster=[team, namespace("other")], config={"mode": "tenant"})

    def with_role(role: str) -> dict[str, Any]:
        pod = yaml.safe_load(yaml.safe_dump(RESTRICTED_POD))
        pod["metadata"]["annotations"] = {"iam.amazonaws.com/role": role}
        return pod

    ok = await client.post(
        "/validate", review(with_role("arn:aws:iam::123456789012:role/app-web"), namespace="team")
    )
    assert ok["allowed"], ok
    for role, ns in (
        ("arn:aws:iam::123456789012:role/admin", "team"),
        ("arn:aws:iam::123456789012:role/app-web", "other"),
    ):
        answer = await client.post("/validate", review(with_role(role), namespace=ns))
        assert not answer["allowed"], (role, ns)
        assert answer["status"]["code"] == 403
        message = answer["status"]["message"]
        assert message.startswith(
            f"identity guard: annotation iam.amazonaws.com/role={role!r} refused: "
        )


@pytest.mark.parametrize("api_version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
async def test_tenant_guard_judges_an_update_that_only_changes_a_role(
    start_webhook: Starter, api_version: str
) -> None:
    """Issue 9 finding 6: the proxy reads role annotations live, so an UPDATE adding one
    is judged even though Pod Security Admission calls it insignificant."""
    team = namespace("team")
    team["metadata"]["annotations"] = {
        "iam.amazonaws.com/allowed-roles": '["arn:aws:iam::111122223333:role/app-*"]'
    }
    client = await start_webhook(cluster=[team], config={"mode": "tenant"})
    old = yaml.safe_load(yaml.safe_dump(RESTRICTED_POD))

    def update(annotations: dict[str, str], *, labels: dict[str, str] | None = None) -> Any:
        new = yaml.safe_load(yaml.safe_dump(old))
        new["metadata"]["annotations"] = annotations
        if labels:
            new["metadata"]["labels"] = labels
        body = review(new, namespace="team", operation="UPDATE", old=old, api_version=api_version)
        return client.post("/validate", body)

    admin = "arn:aws:iam::111122223333:role/admin"
    created = await client.post(
        "/validate",
        review(
            {**old, "metadata": {"name": "ok", "annotations": {"iam.amazonaws.com/role": admin}}},
            namespace="team",
            api_version=api_version,
        ),
    )
    assert not created["allowed"]
    refused = await update({"iam.amazonaws.com/role": admin})
    assert not refused["allowed"], refused
    assert refused["status"]["code"] == 403
    assert refused["status"]["message"].startswith(
        f"identity guard: annotation iam.amazonaws.com/role={admin!r} refused: "
    )
    # The same path admits a permitted role, and an update that changes no role.
    permitted = await update({"iam.amazonaws.com/role": "arn:aws:iam::111122223333:role/app-web"})
    assert permitted["allowed"], permitted
    relabelled = await update({}, labels={"tier": "front"})
    assert relabelled == {
        "uid": relabelled["uid"],
        "allowed": True,
        "status": {"code": 200},
    }


async def test_tenant_role_update_is_judged_by_the_guard_alone(start_webhook: Starter) -> None:
    """A pod that predates the preset (privileged) may still get a permitted role: the
    update is judged by the identity guard, not by the restricted level again."""
    team = namespace("team")
    team["metadata"]["annotations"] = {
        "iam.amazonaws.com/allowed-roles": '["arn:aws:iam::111122223333:role/app-*"]'
    }
    client = await start_webhook(cluster=[team], config={"mode": "tenant"})
    old = yaml.safe_load(yaml.safe_dump(PRIVILEGED_POD))
    new = yaml.safe_load(yaml.safe_dump(old))
    new["metadata"]["annotations"] = {
        "iam.amazonaws.com/role": "arn:aws:iam::111122223333:role/app-web"
    }
    body = review(new, namespace="team", operation="UPDATE", old=old)
    assert (await client.post("/validate", body))["allowed"]
    new["metadata"]["annotations"] = {
        "iam.amazonaws.com/role": "arn:aws:iam::111122223333:role/admin"
    }
    body = review(new, namespace="team", operation="UPDATE", old=old)
    assert not (await client.post("/validate", body))["allowed"]
