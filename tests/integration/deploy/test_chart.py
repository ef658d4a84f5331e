"""The chart through the real helm: lint, render, API-schema validation per Kubernetes
version, the values schema, and the rendered configuration loaded by podwarden itself.

Supported Kubernetes versions: the chart's kubeVersion floor (1.25: policy/v1 budgets,
admissionregistration v1) up to the newest kubernetes-validate ships schemas for; every
object of every render is validated against each of them (strict: unknown fields fail).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml
from deploytools import helm
from kubernetes_validate import utils as kv_utils

from podwarden.agent import commands as agent_commands
from podwarden.agent.settings import AgentConfig
from podwarden.metadata import firewall
from podwarden.webhooks import authz_settings, certs, nodeauth_commands, settings
from podwarden.webhooks import commands as webhook_commands
from tests.integration.deploy.conftest import (
    CERT_MANAGER,
    CLOUDS,
    EXAMPLES,
    MONITORING,
    NODEAUTH_IP,
    files_mode,
    helm_or_skip,
)

pytestmark = pytest.mark.usefixtures("helm_present")
CHART_FLOOR = yaml.safe_load((helm.CHART / "Chart.yaml").read_text())["kubeVersion"]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(map(int, version.split(".")))


VERSIONS = sorted(
    {v for v in kv_utils.all_versions() if version_tuple(v) >= (1, 25, 0)}, key=version_tuple
)
# The node authorization webhook: structured authorization config and admission
# matchConditions; the chart refuses to render it for older clusters.
NODEAUTH_FLOOR = (1, 30, 0)
# Kinds from CRDs kubernetes-validate has no schema for: checked by promtool (PrometheusRule)
# and by the tests below, and applied to the lab API server (test_apply.py).
CUSTOM_GROUPS = ("cert-manager.io/", "monitoring.coreos.com/")


@pytest.fixture(scope="module")
def helm_present() -> None:
    helm_or_skip()


NODEAUTH = EXAMPLES / "nodeauth.yaml"


def renders(out: Path, nodeauth_out: Path) -> dict[str, dict[str, Any]]:
    """Named helm template arguments: the defaults (node authorization off) and every cloud
    with the node authorization webhook on, both certificate paths."""
    found: dict[str, dict[str, Any]] = {
        "defaults, cert-manager": {"api_versions": [CERT_MANAGER]},
        "defaults, certificate files": {"set_files": files_mode(out)},
    }
    for cloud in CLOUDS:
        found[f"{cloud}, node authorization, cert-manager, monitoring"] = {
            "values": [EXAMPLES / f"{cloud}.yaml", NODEAUTH, EXAMPLES / "monitoring.yaml"],
            "api_versions": [CERT_MANAGER, MONITORING],
        }
        found[f"{cloud}, node authorization, certificate files"] = {
            "values": [EXAMPLES / f"{cloud}.yaml", NODEAUTH],
            "set_files": {**files_mode(out), **files_mode(nodeauth_out, "nodeAuthorization")},
        }
    return found


def objects(**arguments: Any) -> list[dict[str, Any]]:
    return helm.objects(helm.template(**arguments))


def one(found: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matching = [o for o in found if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(matching) == 1, (kind, name, len(matching))
    return matching[0]


# --- lint and render -------------------------------------------------------------------


@pytest.mark.parametrize("cloud", [None, *CLOUDS])
def test_helm_lint_strict_passes(
    cloud: str | None, webhook_certs: Path, nodeauth_certs: Path
) -> None:
    """With the certificate files given: a `fail` (no caBundle) would make lint skip the
    rendered YAML's checks and only say so as INFO. Each cloud with node authorization on."""
    args = ["lint", "--strict", str(helm.CHART)]
    files = files_mode(webhook_certs)
    if cloud:
        args += ["-f", str(EXAMPLES / f"{cloud}.yaml"), "-f", str(EXAMPLES / "monitoring.yaml")]
        args += ["-f", str(NODEAUTH)]
        files |= files_mode(nodeauth_certs, "nodeAuthorization")
    args += [f"--set-file={key}={path}" for key, path in files.items()]
    out = helm.run(*args)
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    assert "Fail:" not in out, out


def test_lint_catches_a_broken_template(tmp_path: Path) -> None:
    """Not vacuous: the same lint fails on a copy of the chart with a template error."""
    import shutil

    copy = tmp_path / "podwarden"
    shutil.copytree(helm.CHART, copy)
    service = copy / "templates" / "webhook" / "service.yaml"
    service.write_text(service.read_text().replace("port: 443", "port: {{ .Values.nope.port }}"))
    with pytest.raises(helm.HelmError, match="nil pointer"):
        helm.run("lint", "--strict", str(copy))


def without_nodeauth(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        **arguments,
        "values": [v for v in arguments.get("values", ()) if v != NODEAUTH],
        "set_files": {
            k: v
            for k, v in arguments.get("set_files", {}).items()
            if not k.startswith("nodeAuthorization.")
        },
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_validates_against_the_api_schema(
    version: str, webhook_certs: Path, nodeauth_certs: Path
) -> None:
    """Each render at this --kube-version; objects identical across renders checked once."""
    unique: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, arguments in renders(webhook_certs, nodeauth_certs).items():
        if "node authorization" in name and version_tuple(version) < NODEAUTH_FLOOR:
            with pytest.raises(helm.HelmError, match=r"needs Kubernetes 1\.30 or later"):
                objects(kube_version=f"v{version}", **arguments)
            name = name.replace("node authorization", "(refused) node authorization")
            arguments = without_nodeauth(arguments)
        found = objects(kube_version=f"v{version}", include_crds=True, **arguments)
        kinds = {o["kind"] for o in found}
        assert {"DaemonSet", "Deployment", "CustomResourceDefinition"} <= kinds, name
        deployments = {o["metadata"]["name"] for o in found if o["kind"] == "Deployment"}
        assert ("podwarden-nodeauth" in deployments) == (", node authorization" in name), name
        for obj in found:
            if not obj["apiVersion"].startswith(CUSTOM_GROUPS):
                unique.setdefault(json.dumps(obj, sort_keys=True), (name, obj))
    for name, obj in unique.values():
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(
                f"{name}: {obj['kind']} {obj['metadata']['name']}: {exc}"
            ) from None
    # the built-in kinds of all renders, each distinct variant once (defaults, clouds, certs)
    assert len(unique) >= 25, len(unique)
    names = {o["metadata"]["name"] for _, o in unique.values()}
    assert ("podwarden-noderestriction" in names) == (version_tuple(version) >= NODEAUTH_FLOOR)
    print(f"kubernetes {version}: {len(unique)} distinct objects valid")


def test_the_chart_refuses_kubernetes_older_than_its_floor() -> None:
    assert CHART_FLOOR == ">=1.25.0-0"
    with pytest.raises(helm.HelmError, match=r"incompatible with Kubernetes v1\.24"):
        helm.template(kube_version="v1.24.0", api_versions=[CERT_MANAGER])
    helm.template(kube_version="v1.25.0", api_versions=[CERT_MANAGER])  # the floor renders


# --- the values schema rejects typos, and every flag is a value ------------------------


@pytest.mark.parametrize(
    ("key", "where"),
    [
        ("agent.config.providr=aws", "agent.config: Additional property providr"),
        ("webhok.enabled=false", "(root): Additional property webhok"),
        ("webhook.certificates.sorce=files", "webhook.certificates: Additional property sorce"),
        ("monitoring.prometheusRule.enable=true", "Additional property enable"),
        ("agent.config.backend=nftables", "agent.config.backend"),
        ("webhook.config.mode=psa", "webhook.config.mode"),
        ("nodeAuthorization.enable=true", "nodeAuthorization: Additional property enable"),
        ("nodeAuthorization.config.mod=deny", "nodeAuthorization.config: Additional property mod"),
        (
            "nodeAuthorization.certificates.sorce=files",
            "nodeAuthorization.certificates: Additional property sorce",
        ),
        (
            "nodeAuthorization.authorizer.failurePolicy=Allow",
            "nodeAuthorization.authorizer.failurePolicy",
        ),
        ("nodeAuthorization.config.mode=allow", "nodeAuthorization.config.mode"),
    ],
)
def test_the_values_schema_rejects_typos_and_bad_values(key: str, where: str) -> None:
    with pytest.raises(helm.HelmError, match="don't meet the specifications") as caught:
        helm.run("template", "x", str(helm.CHART), "--set", key, "--api-versions", CERT_MANAGER)
    assert where in str(caught.value)


def test_the_same_keys_spelled_right_render() -> None:
    helm.template(
        api_versions=[CERT_MANAGER],
        set_values={
            "agent.config.provider": "gce",
            "webhook.enabled": "true",
            "webhook.certificates.source": "cert-manager",
            "monitoring.prometheusRule.enabled": "true",
            "agent.config.backend": "iptables-nft",
            "webhook.config.mode": "psp",
            "nodeAuthorization.enabled": "true",
            "nodeAuthorization.config.mode": "no-opinion",
            "nodeAuthorization.certificates.source": "cert-manager",
            "nodeAuthorization.authorizer.failurePolicy": "NoOpinion",
        },
    )


def schema() -> dict[str, Any]:
    return dict(json.loads((helm.CHART / "values.schema.json").read_text()))


# Set by the chart itself from the node (env) and other values, never by agent.config.
AGENT_CHART_MANAGED = {"listen", "health_listen", "metrics_listen", "node", "policy"}
AGENT_NOT_AGENT_KEYS = {"proxy", "proxy6", "fail_closed_only"}  # refused by `checked()`


def test_every_agent_flag_is_a_value() -> None:
    config = schema()["properties"]["agent"]["properties"]["config"]
    assert config["additionalProperties"] is False
    keys = set(AgentConfig.model_fields) - AGENT_NOT_AGENT_KEYS
    assert set(config["properties"]) == keys - AGENT_CHART_MANAGED
    flags = {
        param.name
        for param in click.Context(agent_commands.agent).command.params
        if isinstance(param, click.Option) and param.name != "config_file"
    }
    assert flags <= keys, flags - keys  # every flag has a config key, so a value


# The flags a served component shares: flag -> the value (or the chart's fixed choice).
SERVER_FLAGS: dict[str, str | None] = {
    "listen": "port",
    "tls_cert": "certificates",
    "tls_key": "certificates",
    "config_file": "config",
    "poll_interval": "pollInterval",
    "in_cluster": None,  # the chart's source: the pod's service account
    "kubeconfig": None,
    "cluster_file": None,
}


@pytest.mark.parametrize(
    ("command", "key", "own_flags", "settings_file"),
    [
        (webhook_commands.webhook, "webhook", {}, settings.WebhookFile),
        (nodeauth_commands.serve, "nodeAuthorization",
         {"mode": "config.mode", "kubernetes_version": "config.kubernetesVersion",
          "node_scoped": "config.nodeScopedServiceAccounts"},
         authz_settings.NodeAuthSettings),
    ],
    ids=["podwarden webhook", "podwarden nodeauth serve"],
)  # fmt: skip
def test_every_server_flag_is_a_value(
    command: click.Command, key: str, own_flags: dict[str, str], settings_file: type[Any]
) -> None:
    """Each flag is set from a value under `key` (or is the chart's fixed choice), and
    `key`.config holds exactly the settings file's keys; unknown keys are refused there."""
    component = schema()["properties"][key]
    assert component["additionalProperties"] is False
    values = component["properties"]
    assert values["config"]["additionalProperties"] is False
    mapping = {**SERVER_FLAGS, **own_flags}
    flags = {
        param.name
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden and param.name != "help"
    }
    assert flags == set(mapping)
    for flag, value in mapping.items():
        if value is not None:
            first, _, rest = value.partition(".")
            assert first in values and (not rest or rest in values[first]["properties"]), flag
    fields = settings_file.model_fields
    assert set(values["config"]["properties"]) == {f.alias or n for n, f in fields.items()}


# --- what the chart renders is what podwarden accepts ----------------------------------


@pytest.mark.parametrize("cloud", [None, *CLOUDS])
def test_the_rendered_configuration_loads_in_podwarden(
    cloud: str | None, webhook_certs: Path, tmp_path: Path
) -> None:
    values = [EXAMPLES / f"{cloud}.yaml"] if cloud else []
    found = objects(values=values, set_files=files_mode(webhook_certs))
    agent = one(found, "ConfigMap", "podwarden-agent")["data"]
    data = yaml.safe_load(agent["agent.yaml"])
    # what the DaemonSet's command adds: the node's address and, with in_cluster, its name
    config = AgentConfig.model_validate({**data, "listen": "10.0.0.1:988", "node": "node-a"})
    checked = config.checked()
    assert checked.proxy == "10.0.0.1:988"
    plan = config.identity_plan() if config.in_cluster else None
    if cloud:
        assert config.provider == cloud and config.in_cluster and plan is not None
    if "policy.yaml" in agent:
        assert data["policy"] == "/etc/podwarden/policy.yaml"
        (tmp_path / "policy.yaml").write_text(agent["policy.yaml"])
        built = firewall.build(str(config.provider), policy_file=tmp_path / "policy.yaml")
        assert built.imdsv2_required == (cloud == "aws")
    webhook = one(found, "ConfigMap", "podwarden-webhook")["data"]
    for name, text in webhook.items():
        (tmp_path / name).write_text(text)
    loaded = settings.load(tmp_path / "webhook.yaml")
    assert [p.name for p in loaded.policies] == ["example"]
    command = one(found, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert ("--node" in command) == config.in_cluster  # identity follows this node's pods
    rules = one(found, "ClusterRole", "podwarden-agent")["rules"]
    resources = {r for rule in rules for r in rule["resources"]}
    assert resources == ({"pods", "namespaces", "events"} if config.in_cluster else {"pods"})


def test_certificates_from_files_go_into_the_secret_and_the_ca_bundle(
    webhook_certs: Path,
) -> None:
    found = objects(set_files=files_mode(webhook_certs))
    secret = one(found, "Secret", "podwarden-webhook-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]) == (webhook_certs / "tls.crt").read_bytes()
    bundle = (webhook_certs / certs.CA_BUNDLE).read_text().strip()
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for hook in one(found, kind)["webhooks"]:
            assert hook["clientConfig"]["caBundle"] == bundle
    assert not [o for o in found if o["apiVersion"].startswith(CERT_MANAGER)]


def test_cert_manager_issues_the_serving_certificate_and_injects_the_ca() -> None:
    found = objects(api_versions=[CERT_MANAGER])
    serving = one(found, "Certificate", "podwarden-webhook")["spec"]
    assert serving["dnsNames"] == certs.service_names("podwarden-webhook", "podwarden")
    assert serving["issuerRef"] == {"kind": "Issuer", "name": "podwarden-webhook-ca"}
    volume = next(
        v
        for v in one(found, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "tls"
    )
    assert volume["secret"]["secretName"] == serving["secretName"]
    assert one(found, "Certificate", "podwarden-webhook-ca")["spec"]["isCA"] is True
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        config = one(found, kind)
        annotations = config["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == "podwarden/podwarden-webhook"
        assert all("caBundle" not in h["clientConfig"] for h in config["webhooks"])
    assert not [o for o in found if o["kind"] == "Secret"]  # cert-manager writes it


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "webhook.certificates.caBundle: required"),
        ({"set_values": {"webhook.certificates.caBundle": "bm90IGEgY2VydA=="}},
         "not base64 of a PEM"),
        ({"set_values": {"nodeAuthorization.enabled": "true",
                         "nodeAuthorization.certificates.source": "files"},
          "api_versions": [CERT_MANAGER]},
         "nodeAuthorization.certificates.caBundle: required when podwarden-nodeauth's "
         "certificates come from files"),
        ({"set_values": {"nodeAuthorization.enabled": "true", "nodeAuthorization.replicas": "1"},
          "api_versions": [CERT_MANAGER]},
         "nodeAuthorization.podDisruptionBudget.minAvailable: 1 with nodeAuthorization.replicas "
         "1 would block every node drain"),
        ({"set_values": {"webhook.replicas": "1"}, "api_versions": [CERT_MANAGER]},
         "would block every node drain"),
        ({"set_values": {"monitoring.podMonitor.enabled": "true", "agent.ports.metrics": "null"},
          "api_versions": [CERT_MANAGER]}, "needs agent.ports.metrics"),
    ],
)  # fmt: skip
def test_unusable_values_fail_with_what_to_do(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as caught:
        helm.template(**arguments)
    assert message in str(caught.value)


def test_a_certificate_without_its_key_is_refused(webhook_certs: Path) -> None:
    with pytest.raises(helm.HelmError, match="tlsCert and tlsKey go together"):
        helm.template(
            set_files={
                "webhook.certificates.caBundle": webhook_certs / certs.CA_BUNDLE,
                "webhook.certificates.tlsCert": webhook_certs / certs.TLS_CERT,
            }
        )


def test_without_the_webhook_no_certificate_is_needed() -> None:
    found = objects(set_values={"webhook.enabled": "false"})
    assert {o["kind"] for o in found} == {
        "ConfigMap", "DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
    }  # fmt: skip


# --- availability: the agent on every node, the webhook always answering --------------


def test_the_agent_covers_every_node_and_updates_without_leaving_one_open() -> None:
    found = objects(api_versions=[CERT_MANAGER])
    daemonset = one(found, "DaemonSet")["spec"]
    pod = daemonset["template"]["spec"]
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["hostNetwork"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}]
    update = daemonset["updateStrategy"]
    assert update["type"] == "RollingUpdate"
    # no surge: two agents cannot bind one node's ports; the old agent's rules stay in place
    # (fail closed) until the new one is ready, and /readyz holds the rollout back until then
    assert "maxSurge" not in update["rollingUpdate"]
    agent = pod["containers"][0]
    assert agent["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["initContainers"][0]["command"][-1] == "--fail-closed-only"


def test_the_webhook_is_replicated_spread_and_budgeted() -> None:
    found = objects(api_versions=[CERT_MANAGER], set_values={"webhook.antiAffinity": "required"})
    spec = one(found, "Deployment")["spec"]
    assert spec["replicas"] == 2
    terms = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
    (required,) = terms["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["topologyKey"] == "kubernetes.io/hostname"
    assert one(found, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_the_dashboard_configmap_carries_the_raw_dashboard() -> None:
    found = objects(
        api_versions=[CERT_MANAGER], set_values={"monitoring.dashboard.enabled": "true"}
    )
    dashboard = one(found, "ConfigMap", "podwarden-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    raw = (helm.CHART / "dashboards" / "podwarden.json").read_text()
    assert json.loads(dashboard["data"]["podwarden.json"]) == json.loads(raw)


def test_monitors_scrape_the_ports_the_pods_open() -> None:
    found = objects(
        api_versions=[CERT_MANAGER, MONITORING],
        set_values={"monitoring.podMonitor.enabled": "true",
                    "monitoring.serviceMonitor.enabled": "true"},
    )  # fmt: skip
    agent_ports = {
        p["name"]
        for p in one(found, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    (endpoint,) = one(found, "PodMonitor")["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in agent_ports
    relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    assert relabel["job"]["replacement"] == "podwarden-agent"  # the alerts' job label
    assert relabel["node"]["sourceLabels"] == ["__meta_kubernetes_pod_node_name"]
    (web,) = one(found, "ServiceMonitor")["spec"]["endpoints"]
    service_ports = {p["name"] for p in one(found, "Service")["spec"]["ports"]}
    assert web["port"] in service_ports and web["scheme"] == "https"
    assert web["tlsConfig"]["ca"]["secret"]["key"] == "ca.crt"


# --- the node authorization webhook (opt-in) --------------------------------------------


def nodeauth_objects(**arguments: Any) -> list[dict[str, Any]]:
    found = objects(**arguments)
    return [o for o in found if "podwarden-nodeauth" in json.dumps(o["metadata"])]


def host_file(found: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """One of the files kube-apiserver reads from disk, from the ConfigMap that carries them."""
    data = one(found, "ConfigMap", "podwarden-nodeauth-apiserver")["data"]
    return dict(yaml.safe_load(data[name]))


def test_node_authorization_is_off_by_default() -> None:
    assert nodeauth_objects(api_versions=[CERT_MANAGER]) == []
    found = objects(api_versions=[CERT_MANAGER], set_values={"nodeAuthorization.enabled": "true"})
    assert {o["kind"] for o in found if "nodeauth" in o["metadata"]["name"]} >= {
        "Deployment", "Service", "PodDisruptionBudget", "ServiceAccount", "ClusterRole",
        "ClusterRoleBinding", "ConfigMap", "Certificate", "Issuer",
    }  # fmt: skip
    one(found, "ValidatingWebhookConfiguration", "podwarden-noderestriction")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_rendered_nodeauth_command_and_configuration_load_in_podwarden(
    cloud: str, nodeauth_certs: Path, tmp_path: Path
) -> None:
    found = objects(values=[EXAMPLES / f"{cloud}.yaml", NODEAUTH], api_versions=[CERT_MANAGER])
    config = tmp_path / "nodeauth.yaml"
    config.write_text(one(found, "ConfigMap", "podwarden-nodeauth")["data"]["nodeauth.yaml"])
    loaded = authz_settings.load(config)
    assert loaded.mode == "deny"
    assert loaded.node_scoped_service_accounts == ["kube-system/fluent-bit"]
    pod = one(found, "Deployment", "podwarden-nodeauth")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    files = {
        "/etc/podwarden/tls/tls.crt": str(nodeauth_certs / certs.TLS_CERT),
        "/etc/podwarden/tls/tls.key": str(nodeauth_certs / certs.TLS_KEY),
        "/etc/podwarden/config/nodeauth.yaml": str(config),
    }
    command = container["command"]
    assert command[:3] == ["podwarden", "nodeauth", "serve"]
    context = nodeauth_commands.serve.make_context("serve", [files.get(a, a) for a in command[3:]])
    assert context.params["in_cluster"] is True
    assert context.params["listen"] == f"0.0.0.0:{container['ports'][0]['containerPort']}"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {str(Path(f).parent) for f in files} <= mounts
    (tls,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    serving = one(found, "Certificate", "podwarden-nodeauth")["spec"]
    assert tls["secret"]["secretName"] == serving["secretName"]


def test_nodeauth_certificates_from_files_reach_the_secret_the_webhook_and_the_kubeconfig(
    webhook_certs: Path, nodeauth_certs: Path
) -> None:
    found = objects(
        set_values={"nodeAuthorization.enabled": "true"},
        set_files={**files_mode(webhook_certs), **files_mode(nodeauth_certs, "nodeAuthorization")},
    )
    secret = one(found, "Secret", "podwarden-nodeauth-tls")
    assert base64.b64decode(secret["data"]["tls.crt"]) == (nodeauth_certs / "tls.crt").read_bytes()
    bundle = (nodeauth_certs / certs.CA_BUNDLE).read_text().strip()
    (hook,) = one(found, "ValidatingWebhookConfiguration", "podwarden-noderestriction")["webhooks"]
    assert hook["clientConfig"]["caBundle"] == bundle
    kubeconfig = host_file(found, "webhook-kubeconfig.yaml")
    (cluster,) = kubeconfig["clusters"]
    assert cluster["cluster"]["certificate-authority-data"] == bundle
    assert cluster["cluster"]["server"] == f"https://{NODEAUTH_IP}:443/authorize"
    assert one(found, "Service", "podwarden-nodeauth")["spec"]["clusterIP"] == NODEAUTH_IP
    # the admission webhook's own bundle is still its own
    (validate, *_) = one(found, "ValidatingWebhookConfiguration", "podwarden")["webhooks"]
    assert validate["clientConfig"]["caBundle"] != bundle


def test_cert_manager_issues_the_nodeauth_certificate_for_its_name_and_cluster_ip() -> None:
    found = objects(api_versions=[CERT_MANAGER], set_values={"nodeAuthorization.enabled": "true"})
    serving = one(found, "Certificate", "podwarden-nodeauth")["spec"]
    assert serving["dnsNames"] == certs.service_names("podwarden-nodeauth", "podwarden")
    assert serving["ipAddresses"] == [NODEAUTH_IP]  # kube-apiserver calls the IP
    assert serving["issuerRef"] == {"kind": "Issuer", "name": "podwarden-nodeauth-ca"}
    config = one(found, "ValidatingWebhookConfiguration", "podwarden-noderestriction")
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        "podwarden/podwarden-nodeauth"
    )
    assert "caBundle" not in config["webhooks"][0]["clientConfig"]
    # nothing injects into a file on the control plane: the placeholder, and how to fill it
    data = one(found, "ConfigMap", "podwarden-nodeauth-apiserver")["data"]
    assert "certificate-authority-data: CA_BUNDLE_PLACEHOLDER" in data["webhook-kubeconfig.yaml"]
    assert "get secret podwarden-nodeauth-tls" in data["webhook-kubeconfig.yaml"]


def test_the_authorization_configuration_follows_the_values() -> None:
    base = {"nodeAuthorization.enabled": "true"}
    found = objects(api_versions=[CERT_MANAGER], set_values=base)
    config = host_file(found, "authorization-config.yaml")
    assert [a["type"] for a in config["authorizers"]] == ["Node", "Webhook", "RBAC"]
    webhook = config["authorizers"][1]["webhook"]
    assert webhook["failurePolicy"] == "Deny"
    assert webhook["connectionInfo"]["kubeConfigFile"] == (
        "/etc/kubernetes/podwarden/webhook-kubeconfig.yaml"
    )
    changed = objects(
        api_versions=[CERT_MANAGER],
        set_values={**base, "nodeAuthorization.authorizer.nodeAuthorizerFirst": "false",
                    "nodeAuthorization.authorizer.configDirectory": "/srv/pw/",
                    "nodeAuthorization.authorizer.timeout": "2s",
                    "nodeAuthorization.namespace": "authz"},
    )  # fmt: skip
    config = host_file(changed, "authorization-config.yaml")
    assert [a["type"] for a in config["authorizers"]] == ["Webhook", "RBAC"]
    webhook = config["authorizers"][0]["webhook"]
    assert webhook["timeout"] == "2s"
    assert webhook["connectionInfo"]["kubeConfigFile"] == "/srv/pw/webhook-kubeconfig.yaml"
    # the webhook never judges its own service account, in whatever namespace it runs
    assert (
        "system:serviceaccount:authz:podwarden-nodeauth"
        in webhook["matchConditions"][1]["expression"]
    )
    namespaces = {o["metadata"]["name"] for o in changed if o["kind"] == "Namespace"}
    assert namespaces == {"podwarden", "authz"}
    (validate, *_) = one(changed, "ValidatingWebhookConfiguration", "podwarden")["webhooks"]
    excluded = validate["namespaceSelector"]["matchExpressions"][0]["values"]
    assert "authz" in excluded  # the admission webhook never blocks the authorizer's pods


def test_the_nodeauth_webhook_is_replicated_spread_and_budgeted() -> None:
    found = objects(
        api_versions=[CERT_MANAGER],
        set_values={"nodeAuthorization.enabled": "true",
                    "nodeAuthorization.antiAffinity": "required",
                    "nodeAuthorization.replicas": "3"},
    )  # fmt: skip
    spec = one(found, "Deployment", "podwarden-nodeauth")["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    terms = pod["affinity"]["podAntiAffinity"]
    (required,) = terms["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "podwarden-nodeauth"
    }
    budget = one(found, "PodDisruptionBudget", "podwarden-nodeauth")["spec"]
    assert budget["minAvailable"] == 1
    assert (
        budget["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    )


def test_the_service_monitor_scrapes_the_nodeauth_webhook_as_its_own_job() -> None:
    found = objects(
        api_versions=[CERT_MANAGER, MONITORING],
        set_values={"nodeAuthorization.enabled": "true",
                    "monitoring.serviceMonitor.enabled": "true"},
    )  # fmt: skip
    monitor = one(found, "ServiceMonitor", "podwarden-nodeauth")["spec"]
    service = one(found, "Service", "podwarden-nodeauth")
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    # the job label the alerts read: the Service's app.kubernetes.io/name
    assert service["metadata"]["labels"][monitor["jobLabel"]] == "podwarden-nodeauth"
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["tlsConfig"]["serverName"] == "podwarden-nodeauth.podwarden.svc"
