"""deploy/nodeauth: valid Kubernetes objects, wired to the real app, CLI, feed and engine.

The files are the chart's templates/nodeauth rendered by `make manifests` (the chart's own
values and renders are tested in tests/integration/deploy/test_chart.py).

The API objects validate offline against the API schemas (kubernetes-validate). The two
files that are not API objects — the AuthorizationConfiguration and the webhook
kubeconfig kube-apiserver reads from disk — are checked against the fields the
apiserver.config.k8s.io/v1 and kubeconfig formats define. The matchConditions are CEL,
which nothing here evaluates; their text is checked for the identities they must select.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from podwarden.kube import feed
from podwarden.nodeauth import populate
from podwarden.nodeauth.decide import GRAPH_GOVERNED
from podwarden.nodeauth.engine import Engine
from podwarden.webhooks import authz_app, authz_settings, nodeauth_commands
from podwarden.webhooks.authz_view import NodeAuthView

FOLDER = Path(__file__).resolve().parents[3] / "deploy" / "nodeauth"
API_FILES = ("deployment.yaml", "pdb.yaml", "service.yaml", "rbac.yaml", "configmap.yaml",
             "validatingwebhook.yaml")  # fmt: skip
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in API_FILES:
        for doc in yaml.safe_load_all((FOLDER / name).read_text()):
            if doc:
                found.append((f"{name}:{doc['kind']}", doc))
    return found


DOCS = documents()


def one(kind: str) -> dict[str, Any]:
    matching = [doc for _, doc in DOCS if doc["kind"] == kind]
    assert len(matching) == 1, kind
    return matching[0]


def container() -> dict[str, Any]:
    (found,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
    return found


def test_the_folder_holds_exactly_these_files():
    assert sorted(p.name for p in FOLDER.glob("*.yaml")) == sorted(
        [*API_FILES, "authorization-config.yaml", "webhook-kubeconfig.yaml"]
    )


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("where", "doc"), DOCS, ids=[w for w, _ in DOCS])
def test_manifest_validates_against_the_api_schema(where, doc, version):
    kubernetes_validate.validate(doc, version, strict=True)


def test_a_broken_manifest_is_caught():
    broken = copy.deepcopy(one("ValidatingWebhookConfiguration"))
    broken["webhooks"][0]["matchConditions"][0]["expresion"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_two_replicas_a_pdb_and_a_service_that_reach_the_container():
    deployment = one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["replicas"] == 2
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    port_names = {p["name"] for p in container()["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names


def test_the_command_is_one_the_cli_accepts_and_its_config_loads(tmp_path):
    command = container()["command"]
    assert command[:3] == ["podwarden", "nodeauth", "serve"]
    for path in ("/etc/podwarden/tls/tls.crt", "/etc/podwarden/tls/tls.key"):
        (tmp_path / Path(path).name).write_text("x")
    config = tmp_path / "nodeauth.yaml"
    config.write_text(one("ConfigMap")["data"]["nodeauth.yaml"])
    args = [
        str(tmp_path / Path(a).name) if a.startswith("/etc/podwarden/") else a for a in command[3:]
    ]
    args = [str(config) if a.endswith("nodeauth.yaml") else a for a in args]
    context = nodeauth_commands.serve.make_context("serve", args)
    assert context.params["in_cluster"] is True
    settings = authz_settings.load(config)
    assert settings.mode == "deny"
    mounts = {m["mountPath"] for m in container()["volumeMounts"]}
    assert {"/etc/podwarden/tls", "/etc/podwarden/config"} <= mounts


def served_routes() -> set[tuple[str, str]]:
    view = NodeAuthView()
    server = authz_app.NodeAuthServer(view=view, engine=Engine(view.state))
    return {
        (r.method, r.resource.canonical)
        for r in authz_app.build(server).router.routes()
        if r.resource
    }


def test_probes_and_the_webhook_path_are_routes_the_app_serves():
    served = served_routes()
    assert ("GET", container()["readinessProbe"]["httpGet"]["path"]) in served
    assert container()["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert ("GET", container()["livenessProbe"]["httpGet"]["path"]) in served
    (hook,) = one("ValidatingWebhookConfiguration")["webhooks"]
    assert ("POST", hook["clientConfig"]["service"]["path"]) in served
    assert hook["failurePolicy"] == "Fail"
    kubeconfig = yaml.safe_load((FOLDER / "webhook-kubeconfig.yaml").read_text())
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    assert ("POST", "/" + server.split("/", 3)[3]) in served
    assert one("Service")["spec"]["clusterIP"] in server


def test_rbac_lets_the_feed_list_and_watch_everything_it_follows():
    rules = next(doc for _, doc in DOCS if doc["kind"] == "ClusterRole")["rules"]
    for watched in feed.NODE_GRAPH + feed.RBAC:
        assert any(
            watched.group in rule["apiGroups"]
            and watched.plural in rule["resources"]
            and {"list", "watch"} <= set(rule["verbs"])
            for rule in rules
        ), watched
    granted = {r for rule in rules for r in rule["resources"]}
    assert not granted & {"secrets", "configmaps"}  # the graph never needs their contents
    assert {w.kind for w in feed.NODE_GRAPH} == set(populate.KINDS)


def test_the_admission_rules_cover_every_resource_noderestriction_judges():
    (hook,) = one("ValidatingWebhookConfiguration")["webhooks"]
    covered = {
        (g, r.split("/")[0])
        for rule in hook["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    judged = {("", "pods"), ("", "nodes"), ("", "persistentvolumeclaims"), ("", "serviceaccounts")}
    judged |= {
        ("coordination.k8s.io", "leases"),
        ("storage.k8s.io", "csinodes"),
        ("resource.k8s.io", "resourceslices"),
        ("certificates.k8s.io", "certificatesigningrequests"),
    }
    assert judged <= covered
    assert "system:nodes" in hook["matchConditions"][0]["expression"]


def test_the_authorization_configuration_has_the_v1_shape():
    config = yaml.safe_load((FOLDER / "authorization-config.yaml").read_text())
    assert (config["apiVersion"], config["kind"]) == (
        "apiserver.config.k8s.io/v1",
        "AuthorizationConfiguration",
    )
    types = [a["type"] for a in config["authorizers"]]
    assert types == ["Node", "Webhook", "RBAC"]
    assert all(a["name"] for a in config["authorizers"])
    webhook = config["authorizers"][1]["webhook"]
    required = {"timeout", "subjectAccessReviewVersion", "matchConditionSubjectAccessReviewVersion",
                "failurePolicy", "connectionInfo"}  # fmt: skip
    allowed = required | {"authorizedTTL", "unauthorizedTTL", "matchConditions"}
    allowed |= {"cacheAuthorizedRequests", "cacheUnauthorizedRequests"}
    assert required <= set(webhook) <= allowed
    assert webhook["failurePolicy"] == "Deny"
    assert webhook["connectionInfo"] == {
        "type": "KubeConfigFile",
        "kubeConfigFile": "/etc/kubernetes/podwarden/webhook-kubeconfig.yaml",
    }
    selecting = webhook["matchConditions"][0]["expression"]
    assert "'system:nodes' in request.groups" in selecting
    assert "authentication.kubernetes.io/node-name" in selecting
    assert all(set(c) == {"expression"} for c in webhook["matchConditions"])


def test_the_graph_governed_resources_are_the_ones_the_engine_subdivides():
    assert ("", "secrets") in GRAPH_GOVERNED and ("", "pods") in GRAPH_GOVERNED
