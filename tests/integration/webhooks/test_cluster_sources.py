"""Where the webhook's cluster view comes from: the API server's namespaces only (no pod
watch), the pod's own service account (`--in-cluster`), or a strict cluster file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY

from podwarden import cli
from podwarden.config import ConfigError
from podwarden.kube import filesource
from podwarden.lab.apiserver.server import LabApiServer
from podwarden.lab.ports import free_port
from podwarden.webhooks import certs, clusterfile
from tests.integration.webhooks.conftest import Starter, namespace, write_yaml

ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "psp-user"},
    "rules": [{"apiGroups": ["policy"], "resources": ["podsecuritypolicies"], "verbs": ["use"]}],
}


def relists(resource: str) -> float:
    return REGISTRY.get_sample_value("podwarden_kube_relists_total", {"resource": resource}) or 0.0


async def test_the_webhook_follows_namespaces_and_never_lists_pods(
    start_webhook: Starter, tmp_path: Path
) -> None:
    lab = LabApiServer(bookmark_interval=60.0)
    port = free_port()
    await lab.start("127.0.0.1", port)
    try:
        lab.storage.create(lab.storage_type("namespaces"), None, {"metadata": {"name": "team"}})
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        lab.storage.create(lab.storage_type("pods"), "team", pod)
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: lab, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: lab, user: {token: t}}]\n"
            "contexts: [{name: lab, context: {cluster: lab, user: lab}}]\n"
            "current-context: lab\n"
        )
        pod_lists = relists("Pod")
        client = await start_webhook(kubeconfig=kubeconfig)
        assert (await client.get("/healthz"))[0] == 200  # synced on namespaces alone
        view = client.running.webhook.view
        assert view.namespace("team") is not None
        assert view.pods() == []
        assert relists("Pod") == pod_lists
    finally:
        await lab.stop()


def test_in_cluster_is_a_third_exclusive_source(cert_dir: Path, tmp_path: Path) -> None:
    cluster = write_yaml(tmp_path / "cluster.yaml", [namespace("default")])
    tls = ["--tls-cert", str(cert_dir / certs.TLS_CERT), "--tls-key", str(cert_dir / certs.TLS_KEY)]
    base = ["webhook", "--listen", f"127.0.0.1:{free_port()}", *tls]
    runner = CliRunner()
    both = runner.invoke(cli.main, [*base, "--in-cluster", "--cluster-file", str(cluster)])
    assert both.exit_code == 2
    assert "give exactly one of --kubeconfig, --in-cluster and --cluster-file" in both.output
    # Outside a pod there is no service account: a clear error, not a crash or a hang.
    outside = runner.invoke(cli.main, [*base, "--in-cluster"])
    assert outside.exit_code == 2, outside.output  # a configuration error
    assert "in-cluster configuration unusable" in outside.output


def test_the_cluster_file_still_refuses_unknown_kinds(tmp_path: Path) -> None:
    # Skipping a misspelt RBAC kind would leave no RBAC: every policy usable by everyone.
    typo = dict(ROLE, kind="Clusterrole")
    path = write_yaml(tmp_path / "cluster.yaml", [namespace("team"), typo])
    with pytest.raises(ConfigError, match=r"document 2: kind: 'Clusterrole' is not accepted"):
        clusterfile.ClusterFile(path).parse()
    with pytest.raises(ConfigError, match=r"document 1: metadata.name: required"):
        clusterfile.ClusterFile(
            write_yaml(tmp_path / "bad.yaml", [{"kind": "Namespace", "metadata": {}}])
        ).parse()


def test_the_cluster_file_splits_view_and_rbac_objects(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "cluster.yaml", [namespace("team"), ROLE])
    objects, rbac = clusterfile.ClusterFile(path).parse()
    assert [n["metadata"]["name"] for n in objects["Namespace"]] == ["team"]
    assert objects["Pod"] == []
    assert not rbac.can_use("p", user="alice", groups=(), service_account="x", namespace="team")
    # kube.filesource alone would refuse the ClusterRole; asked to, it skips it.
    assert filesource.load(path, skip_other_kinds=True) == objects
