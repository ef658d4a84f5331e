"""deploy/{agent,webhook,nodeauth,crds,uninstall} are the chart rendered with fixed values
(`make manifests`): this fails when someone edits one side only."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deploytools import helm, manifests

from tests.integration.deploy.conftest import helm_or_skip


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    helm_or_skip()
    return manifests.render()


def test_the_plain_manifests_are_the_rendered_chart(rendered: dict[str, str]) -> None:
    assert manifests.diff(rendered) == "", "deploy/ is out of date: run `make manifests`"
    folders = {path.rsplit("/", 1)[0] for path in rendered}
    assert folders == {
        "deploy/agent", "deploy/webhook", "deploy/nodeauth", "deploy/crds", "deploy/uninstall",
    }  # fmt: skip
    assert "CA_BUNDLE_PLACEHOLDER" in rendered["deploy/webhook/webhooks.yaml"]
    assert "CA_BUNDLE_PLACEHOLDER" in rendered["deploy/nodeauth/validatingwebhook.yaml"]
    # the files kube-apiserver reads from disk are written as themselves, not as the
    # ConfigMap the chart carries them in
    for name, kind in (("authorization-config.yaml", "AuthorizationConfiguration"),
                       ("webhook-kubeconfig.yaml", "Config")):  # fmt: skip
        assert yaml.safe_load(rendered[f"deploy/nodeauth/{name}"])["kind"] == kind
    assert "podwarden-nodeauth-apiserver" not in "".join(rendered.values())
    assert "helm.sh/chart" not in "".join(rendered.values())  # not a Helm release


def copy_of_deploy(tmp_path: Path) -> Path:
    for folder in manifests.FOLDERS.values():
        shutil.copytree(helm.REPO / folder, tmp_path / folder)
    return tmp_path


def test_a_hand_edit_or_a_stray_file_is_caught(rendered: dict[str, str], tmp_path: Path) -> None:
    repo = copy_of_deploy(tmp_path)
    assert manifests.stale(rendered, repo=repo) == []
    daemonset = repo / "deploy/agent/daemonset.yaml"
    daemonset.write_text(daemonset.read_text().replace("maxUnavailable: 10%", "maxUnavailable: 1"))
    (repo / "deploy/webhook/extra.yaml").write_text("kind: ConfigMap\n")
    config = repo / "deploy/nodeauth/authorization-config.yaml"
    config.write_text(config.read_text().replace("failurePolicy: Deny", "failurePolicy: NoOpinion"))
    assert manifests.stale(rendered, repo=repo) == [
        "deploy/agent/daemonset.yaml",
        "deploy/nodeauth/authorization-config.yaml",
        "deploy/webhook/extra.yaml",
    ]
    assert "-      maxUnavailable: 1\n+      maxUnavailable: 10%" in manifests.diff(
        rendered, repo=repo
    )
    manifests.write(rendered, repo=repo)  # what `make manifests` does
    assert manifests.stale(rendered, repo=repo) == []
    assert not (repo / "deploy/webhook/extra.yaml").exists()


def test_the_check_command_exits_0_when_up_to_date(rendered: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deploytools.manifests", "--check"],
        cwd=helm.REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
