"""The rendered chart applied with the real `kubectl apply` to the lab API server: every
object is accepted, reads back as written, and a second apply changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploytools import helm

from podwarden.lab.apiserver.server import ServerThread
from tests.integration.apiserver.conftest import KUBECONFIG
from tests.integration.deploy.conftest import (
    CERT_MANAGER,
    EXAMPLES,
    MONITORING,
    files_mode,
    helm_or_skip,
)

OPERATOR_CRDS = Path(__file__).with_name("operator_crds.yaml")
# deploy/nodeauth files kube-apiserver reads from disk: copied to the control plane, not applied
NOT_API_OBJECTS = frozenset({"authorization-config.yaml", "webhook-kubeconfig.yaml"})
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Iterator[Path]:
    helm_or_skip()
    with ServerThread(bookmark_interval=0.2) as server:
        path = tmp_path / "kubeconfig"
        path.write_text(KUBECONFIG.format(url=server.url), encoding="utf-8")
        yield path


def kubectl(kubeconfig: Path, *args: str) -> str:
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "--request-timeout=20s", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "KUBECACHEDIR": str(kubeconfig.parent / "cache")},
    )  # fmt: skip
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def apply(kubeconfig: Path, stream: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "rendered.yaml"
    path.write_text(stream)
    return kubectl(kubeconfig, "apply", "-f", str(path)).splitlines()


def ref(obj: dict[str, Any]) -> str:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    kind = obj["kind"].lower() + (f".{group}" if group else "")
    return f"{kind}/{obj['metadata']['name']}"


@pytest.mark.parametrize(
    "cloud", ["aws", "gce", "azure", None], ids=["aws", "gce", "azure", "defaults, files"]
)
def test_the_rendered_chart_applies_and_reads_back(
    kubeconfig: Path, tmp_path: Path, webhook_certs: Path, cloud: str | None
) -> None:
    if cloud:  # cert-manager and prometheus-operator present, every monitoring object on
        kubectl(kubeconfig, "apply", "-f", str(OPERATOR_CRDS))
        stream = helm.template(  # and the node authorization webhook
            values=[
                EXAMPLES / f"{cloud}.yaml",
                EXAMPLES / "nodeauth.yaml",
                EXAMPLES / "monitoring.yaml",
            ],
            api_versions=[CERT_MANAGER, MONITORING],
            include_crds=True,
        )
    else:
        stream = helm.template(set_files=files_mode(webhook_certs), include_crds=True)
    found = helm.objects(stream)
    first = apply(kubeconfig, stream, tmp_path)
    assert len(first) == len(found), first
    assert all(line.endswith(" created") for line in first), first
    kinds = {o["kind"] for o in found}
    assert {"DaemonSet", "Deployment", "PodDisruptionBudget", "Service",
            "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
            "CustomResourceDefinition", "Namespace", "ClusterRole"} <= kinds  # fmt: skip
    if cloud:
        assert {"PrometheusRule", "PodMonitor", "ServiceMonitor", "Certificate",
                "Issuer"} <= kinds  # fmt: skip
        names = {o["metadata"]["name"] for o in found}
        assert {"podwarden-nodeauth", "podwarden-noderestriction",
                "podwarden-nodeauth-apiserver"} <= names  # fmt: skip
    for obj in found:
        namespace = obj["metadata"].get("namespace")
        args = ["get", ref(obj), "-o", "json"] + (["-n", namespace] if namespace else [])
        stored = json.loads(kubectl(kubeconfig, *args))
        assert stored["metadata"]["uid"]
        for key in ("spec", "data", "webhooks", "rules", "roleRef", "subjects"):
            if key in obj:
                assert stored[key] == obj[key] or key == "spec", (ref(obj), key)
        if obj["kind"] in ("DaemonSet", "Deployment", "PrometheusRule"):
            assert stored["spec"] == obj["spec"], ref(obj)
    again = apply(kubeconfig, stream, tmp_path)
    # policy/v1 PDB's selector has patchStrategy "replace", so kubectl's computed patch is
    # never empty and it says "configured" against any API server (e.g. Azure/eno#246)
    budgets = ["podwarden-webhook"] + (["podwarden-nodeauth"] if cloud else [])
    assert sorted(line for line in again if not line.endswith(" unchanged")) == [
        f"poddisruptionbudget.policy/{name} configured" for name in sorted(budgets)
    ]


def test_the_plain_manifests_apply_once_the_ca_bundle_is_filled(
    kubeconfig: Path, tmp_path: Path, webhook_certs: Path
) -> None:
    """The README's path without helm: kubectl apply of deploy/ (rendered from the chart);
    deploy/nodeauth without the two files kube-apiserver reads from disk."""
    deploy = helm.REPO / "deploy"
    bundle = (webhook_certs / "caBundle").read_text().strip()
    stream = ""
    for folder in ("crds", "webhook", "agent", "nodeauth"):
        for path in sorted((deploy / folder).glob("*.yaml")):
            if path.name not in NOT_API_OBJECTS:
                stream += "---\n" + path.read_text().replace("CA_BUNDLE_PLACEHOLDER", bundle)
    lines = apply(kubeconfig, stream, tmp_path)
    assert lines and all(line.endswith(" created") for line in lines), lines
    assert "deployment.apps/podwarden-nodeauth created" in lines
    assert (
        "validatingwebhookconfiguration.admissionregistration.k8s.io/podwarden-noderestriction"
        " created"
    ) in lines


def helm_install_dry_run(kubeconfig: Path, *args: str) -> str:
    return helm.run(
        "install", "podwarden", str(helm.CHART), "-n", "kube-system", "--dry-run=client",
        "--disable-openapi-validation",  # the lab serves OpenAPI v3 paths without schemas
        "--kubeconfig", str(kubeconfig), *args,
    )  # fmt: skip


def test_helm_sees_cert_manager_in_the_cluster_and_notes_tell_probe_and_audit(
    kubeconfig: Path, webhook_certs: Path
) -> None:
    """`source: auto` follows the API server's discovery: no cert-manager, certificate files
    are required; once its CRDs are served, cert-manager issues the certificate."""
    aws = str(EXAMPLES / "aws.yaml")
    with pytest.raises(helm.HelmError, match=r"webhook\.certificates\.caBundle: required"):
        helm_install_dry_run(kubeconfig, "-f", aws)
    files = [f"--set-file={key}={path}" for key, path in files_mode(webhook_certs).items()]
    out = helm_install_dry_run(kubeconfig, "-f", aws, *files)
    assert "certificates from files" in out and "kind: Certificate" not in out
    kubectl(kubeconfig, "apply", "-f", str(OPERATOR_CRDS))
    out = helm_install_dry_run(kubeconfig, "-f", aws)
    assert "certificates from cert-manager" in out and "kind: Certificate" in out
    notes = out[out.index("NOTES:") :]
    assert "-- probe" in notes  # the probe, run in a pod
    assert "podwarden audit --kubeconfig" in notes and "kubectl podwarden audit" in notes
    assert "deploy/uninstall/daemonset.yaml" in notes


def test_notes_tell_how_to_hand_the_authorization_files_to_kube_apiserver(
    kubeconfig: Path,
) -> None:
    """With node authorization on, NOTES.txt says where the two host files go and how to
    fill the CA cert-manager issued; off, it says nothing about them."""
    kubectl(kubeconfig, "apply", "-f", str(OPERATOR_CRDS))
    aws = str(EXAMPLES / "aws.yaml")
    out = helm_install_dry_run(kubeconfig, "-f", aws, "-f", str(EXAMPLES / "nodeauth.yaml"))
    notes = out[out.index("NOTES:") :]
    assert "Node authorization: Deployment podwarden/podwarden-nodeauth" in notes
    assert "> /etc/kubernetes/podwarden/authorization-config.yaml" in notes
    assert "get secret podwarden-nodeauth-tls -o jsonpath='{.data.ca\\.crt}'" in notes
    assert "--authorization-config=/etc/kubernetes/podwarden/authorization-config.yaml" in notes
    assert "podwarden nodeauth verify" in notes
    plain = helm_install_dry_run(kubeconfig, "-f", aws)
    assert "authorization-config" not in plain[plain.index("NOTES:") :]
