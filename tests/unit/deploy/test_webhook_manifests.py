"""deploy/webhook and deploy/crds: valid Kubernetes objects, wired to the real app and CLI.

Every document is validated offline against the API schemas (kubernetes-validate); the
webhook configurations point at routes the aiohttp app really serves, through the Service
and container port the Deployment really opens; the Deployment's command uses flags the
CLI really has; the webhook's own pod passes `restricted` through `podwarden check`; the
ConfigMap's configuration loads; the CRD's schema is the PSP spec the engine accepts.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from bench import admission_psp
from click.testing import CliRunner

from podwarden import cli
from podwarden.kube import store
from podwarden.podsecurity.psp import engine
from podwarden.podsecurity.psp.model import PODWARDEN_GROUP, PodSecurityPolicySpec
from podwarden.webhooks import access, app, certs, commands, decide, settings

pytestmark = pytest.mark.peers("kubernetes-validate")

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
FOLDERS = ("webhook", "crds")
EXAMPLES = REPO / "examples" / "psp-walkthrough"
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
NAMESPACE = "podwarden"
CRD_FILE = DEPLOY / "crds" / "policy.podwarden.io_podsecuritypolicies.yaml"


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for folder in FOLDERS:
        for path in sorted((DEPLOY / folder).glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if doc:
                    found.append((f"{folder}/{path.name}:{doc['kind']}", doc))
    return found


DOCS = documents()


def one(kind: str) -> dict[str, Any]:
    matching = [doc for _, doc in DOCS if doc["kind"] == kind]
    assert len(matching) == 1, f"expected one {kind}, found {len(matching)}"
    return matching[0]


def container() -> dict[str, Any]:
    containers = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def webhooks() -> list[dict[str, Any]]:
    found = []
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        found += one(kind)["webhooks"]
    return found


def test_every_expected_object_is_there() -> None:
    kinds = sorted(doc["kind"] for _, doc in DOCS)
    assert kinds == sorted([
        "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment",
        "Service", "PodDisruptionBudget", "ConfigMap", "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration", "CustomResourceDefinition",
    ])  # fmt: skip


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("where", "doc"), DOCS, ids=[w for w, _ in DOCS])
def test_manifest_validates_against_the_api_schema(
    where: str, doc: dict[str, Any], version: str
) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize(("key", "value"), [("timeoutSeconds", "ten"), ("failurePolicys", "Fail")])
def test_a_broken_manifest_is_caught_by_the_validation(key: str, value: str) -> None:
    broken = copy.deepcopy(one("ValidatingWebhookConfiguration"))
    broken["webhooks"][0][key] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_namespaced_objects_live_in_the_webhook_namespace() -> None:
    assert one("Namespace")["metadata"]["name"] == NAMESPACE
    for where, doc in DOCS:
        if doc["kind"] in ("ServiceAccount", "Deployment", "Service", "PodDisruptionBudget",
                           "ConfigMap"):  # fmt: skip
            assert doc["metadata"]["namespace"] == NAMESPACE, where


# --- the webhook configurations reach the app's real routes ---------------------------


def routes() -> set[tuple[str, str]]:
    webhook = app.Webhook(
        settings=settings.Settings(),
        view=store.ClusterView(),
        authorizer=access.RbacAuthorizer(engine.Rbac.allow_all),
    )
    return {
        (route.method, route.resource.canonical)
        for route in app.build(webhook).router.routes()
        if route.resource is not None
    }


def test_webhook_paths_are_routes_the_app_serves() -> None:
    served = routes()
    paths = {hook["clientConfig"]["service"]["path"] for hook in webhooks()}
    assert paths == {"/validate", "/mutate"}
    for hook in webhooks():
        assert ("POST", hook["clientConfig"]["service"]["path"]) in served, hook["name"]
    kind_of = {
        "ValidatingWebhookConfiguration": "/validate",
        "MutatingWebhookConfiguration": "/mutate",
    }
    for kind, path in kind_of.items():
        assert {h["clientConfig"]["service"]["path"] for h in one(kind)["webhooks"]} == {path}
    probe = container()["readinessProbe"]["httpGet"]
    assert probe["scheme"] == "HTTPS"
    assert ("GET", probe["path"]) in served


def test_the_api_server_reaches_the_container_through_the_service() -> None:
    service = one("Service")
    port = container()["ports"][0]
    listen = flag(container()["command"], "--listen")
    assert listen == f"0.0.0.0:{port['containerPort']}"
    deployment_labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= deployment_labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    assert container()["readinessProbe"]["httpGet"]["port"] == port["name"]
    for hook in webhooks():
        ref = hook["clientConfig"]["service"]
        assert (ref["name"], ref["namespace"], ref["port"]) == (
            service["metadata"]["name"], NAMESPACE, service_port["port"],
        )  # fmt: skip
        # `podwarden webhook certs --service S --namespace N` names the certificate for it
        assert f"{ref['name']}.{ref['namespace']}.svc" in certs.service_names(
            ref["name"], ref["namespace"]
        )


def test_webhook_registration_follows_the_issue() -> None:
    judged = set(decide.WORKLOAD_RESOURCES) | {("", "pods")}
    validated: set[tuple[str, str]] = set()
    for hook in webhooks():
        assert hook["failurePolicy"] == "Fail"
        assert hook["sideEffects"] in ("None", "NoneOnDryRun")
        assert hook["admissionReviewVersions"] == ["v1", "v1beta1"]
        # longer than the app's own decision deadline, so a slow decision is our refusal
        assert app.DECISION_TIMEOUT < hook["timeoutSeconds"] <= 30
        excluded = hook["namespaceSelector"]["matchExpressions"]
        assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                "values": ["kube-system", NAMESPACE]} in excluded  # fmt: skip
        with pytest.raises(binascii.Error):  # an unfilled placeholder cannot be applied
            base64.b64decode(hook["clientConfig"]["caBundle"], validate=True)
        for rule in hook["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    base = resource.split("/")[0]
                    assert (group, base) in judged, (hook["name"], group, resource)
                    if hook in one("ValidatingWebhookConfiguration")["webhooks"]:
                        validated.add((group, resource))
    assert {(g, r) for g, r in validated if "/" not in r} == judged
    assert ("", "pods/ephemeralcontainers") in validated


# --- the Deployment: command, hardening, availability ---------------------------------


def test_the_command_uses_flags_the_cli_has() -> None:
    command = container()["command"]
    assert command[:2] == ["podwarden", "webhook"]
    known = {opt for param in commands.webhook.params for opt in getattr(param, "opts", [])}
    used = [word for word in command[2:] if word.startswith("--")]
    assert set(used) <= known, set(used) - known
    assert {"--listen", "--tls-cert", "--tls-key", "--config", "--in-cluster"} <= set(used)
    mounts = {m["name"]: m["mountPath"] for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in one("Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert flag(command, "--tls-cert") == f"{mounts['tls']}/{certs.TLS_CERT}"
    assert flag(command, "--tls-key") == f"{mounts['tls']}/{certs.TLS_KEY}"
    assert volumes["tls"]["secret"]["secretName"] == "podwarden-webhook-tls"
    config_map = one("ConfigMap")
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    config_path = Path(flag(command, "--config"))
    assert str(config_path.parent) == mounts["config"]
    assert config_path.name in config_map["data"]


def test_the_deployment_is_replicated_and_spread() -> None:
    deployment = one("Deployment")["spec"]
    assert deployment["replicas"] == 2
    pod = deployment["template"]["spec"]
    terms = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert terms[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    budget = one("PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert (
        budget["selector"]["matchLabels"].items()
        <= deployment["template"]["metadata"]["labels"].items()
    )
    resources = container()["resources"]
    assert resources["requests"] and resources["limits"]["memory"]


def check(path: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    done = CliRunner().invoke(
        cli.main,
        ["check", "--level", "restricted", "--workloads", "refuse", "--format", "json",
         *extra, str(path)],
    )  # fmt: skip
    return done.exit_code, json.loads(done.stdout)


def test_the_webhooks_own_pod_passes_restricted(tmp_path: Path) -> None:
    code, findings = check(DEPLOY / "webhook" / "deployment.yaml")
    assert code == 0, findings
    assert [(f["kind"], f["allowed"], f["warnings"]) for f in findings] == [
        ("Deployment", True, [])
    ]
    labels = one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    # the same check refuses the Deployment once a hardening line is gone (not vacuous)
    weaker = copy.deepcopy(one("Deployment"))
    del weaker["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
    path = tmp_path / "weaker.yaml"
    path.write_text(yaml.safe_dump(weaker), encoding="utf-8")
    code, findings = check(path)
    assert code == 1
    assert "unrestricted capabilities" in " ".join(findings[0]["reasons"])


def test_the_cluster_role_grants_what_the_webhook_uses_and_no_more() -> None:
    rules = {
        (group, resource): tuple(rule["verbs"])
        for rule in one("ClusterRole")["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    crd = one("CustomResourceDefinition")["spec"]
    assert rules == {
        ("", "namespaces"): ("get", "list", "watch"),
        (crd["group"], crd["names"]["plural"]): ("get", "list", "watch"),
        # the webhook also follows policy/v1beta1 objects on clusters before 1.25
        ("policy", "podsecuritypolicies"): ("get", "list", "watch"),
        ("authorization.k8s.io", "subjectaccessreviews"): ("create",),
    }
    binding = one("ClusterRoleBinding")
    account = one("ServiceAccount")["metadata"]
    assert binding["roleRef"]["name"] == one("ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]


# --- the ConfigMap's configuration and the CRD ---------------------------------------


def config_dir(tmp_path: Path, *, mode: str | None = None) -> Path:
    for name, text in one("ConfigMap")["data"].items():
        if mode and name == "webhook.yaml":
            text = text.replace("mode: pss", f"mode: {mode}", 1)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "webhook.yaml"


@pytest.mark.parametrize("mode", ["pss", "psp", "tenant"])
def test_the_sample_config_loads_in_every_mode(tmp_path: Path, mode: str) -> None:
    loaded = settings.load(config_dir(tmp_path, mode=mode))
    assert loaded.mode == mode
    assert [p.name for p in loaded.policies] == ["example"]
    assert loaded.policies[0].api_version == f"{PODWARDEN_GROUP}/v1"
    assert loaded.exemptions.reason(username="", namespace=NAMESPACE, runtime_class=None)
    assert loaded.defaults.enforce.level == "baseline"


def crd_schema() -> dict[str, Any]:
    (version,) = one("CustomResourceDefinition")["spec"]["versions"]
    return dict(version["schema"]["openAPIV3Schema"])


def test_the_crd_is_podwardens_cluster_scoped_policy_api() -> None:
    crd = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    spec = crd["spec"]
    assert spec["group"] == PODWARDEN_GROUP
    assert spec["scope"] == "Cluster"
    assert spec["names"]["kind"] == "PodSecurityPolicy"
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
    (version,) = spec["versions"]
    assert version["served"] and version["storage"]
    engine.load_policies([policy_as_crd(EXAMPLES / "policy.yaml", version=version["name"])])


def test_the_crd_schema_has_exactly_the_psp_spec_fields() -> None:
    spec = crd_schema()["properties"]["spec"]
    fields = PodSecurityPolicySpec.model_fields
    assert set(spec["properties"]) == {f.alias or name for name, f in fields.items()}
    required = {f.alias or name for name, f in fields.items() if f.is_required()}
    assert set(spec["required"]) == required


def policy_as_crd(path: Path, *, version: str = "v1") -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(doc, apiVersion=f"{PODWARDEN_GROUP}/{version}")


def policies_the_engine_accepts() -> list[dict[str, Any]]:
    found = [policy_as_crd(p) for p in sorted(EXAMPLES.glob("policy*.yaml"))]
    found += [dict(d, apiVersion=f"{PODWARDEN_GROUP}/v1") for d in admission_psp.POLICIES]
    found.append(yaml.safe_load(one("ConfigMap")["data"]["policies.yaml"]))
    return found


@pytest.mark.parametrize(
    "policy", policies_the_engine_accepts(), ids=lambda p: str(p["metadata"]["name"])
)
def test_policies_the_engine_accepts_fit_the_crd_schema(policy: dict[str, Any]) -> None:
    engine.load_policies([policy])
    jsonschema.validate(policy, crd_schema())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("runAsUser", {"rule": "MustRunAsRoot"}),
        ("volumes", ["hostpath"]),
        ("hostPorts", [{"min": 0, "max": 70000}]),
        ("allowedHostPaths", [{"readOnly": True}]),
    ],
)
def test_policies_the_engine_refuses_are_refused_by_the_crd_schema(key: str, value: Any) -> None:
    policy = policy_as_crd(EXAMPLES / "policy.yaml")
    policy["spec"] = dict(policy["spec"], **{key: value})
    with pytest.raises(engine.PolicyError, match=key):
        engine.load_policies([policy])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, crd_schema())
