"""The krew manifest (plugins/podwarden.yaml) against krew's Plugin rules, its archive's
sha256 against a reproducible build, and the archive's launcher run by the real kubectl.

Rules checked, as krew's index validation states them (krew v0.4, pkg/index/validation):
apiVersion krew.googlecontainertools.github.com/v1alpha2, kind Plugin; metadata.name
lowercase letters, digits and dashes, equal to the file's name; spec.version a semantic
version with a leading `v`; a shortDescription; at least one platform, each with a
selector, an https uri, a 64-hex sha256, a relative `bin` and files with from/to.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from podwarden import __version__

ROOT = Path(__file__).resolve().parents[2]
KREW = ROOT / "plugins"
MANIFEST = KREW / "podwarden.yaml"
SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)
TOP_KEYS = {"apiVersion", "kind", "metadata", "spec"}
SPEC_KEYS = {"version", "homepage", "shortDescription", "description", "caveats", "platforms"}
PLATFORM_KEYS = {"selector", "uri", "sha256", "bin", "files"}


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def build(out: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(KREW / "build_archive.py"), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_manifest_follows_krews_plugin_schema() -> None:
    doc = manifest()
    assert set(doc) == TOP_KEYS
    assert doc["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert doc["kind"] == "Plugin"
    name = doc["metadata"]["name"]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) and f"{name}.yaml" == MANIFEST.name
    spec = doc["spec"]
    assert set(spec) <= SPEC_KEYS, set(spec) - SPEC_KEYS
    assert SEMVER.match(spec["version"])
    assert spec["version"] == f"v{__version__}", "the manifest must follow the package version"
    assert 0 < len(spec["shortDescription"]) <= 80
    assert spec["platforms"]
    for platform in spec["platforms"]:
        assert set(platform) <= PLATFORM_KEYS and {"selector", "uri", "sha256", "bin"} <= set(
            platform
        )
        selector = platform["selector"]
        assert selector.get("matchLabels") or selector.get("matchExpressions")
        for expression in selector.get("matchExpressions", []):
            assert expression["operator"] in {"In", "NotIn", "Exists", "DoesNotExist"}
        assert platform["uri"].startswith("https://")
        assert f"/{spec['version']}/" in platform["uri"]
        assert re.fullmatch(r"[0-9a-f]{64}", platform["sha256"])
        assert not Path(platform["bin"]).is_absolute() and ".." not in Path(platform["bin"]).parts
        for entry in platform.get("files", []):
            assert set(entry) == {"from", "to"}


def test_the_archive_builds_reproducibly_to_the_manifests_sha256(tmp_path: Path) -> None:
    first = build(tmp_path / "a.tar.gz")
    second = build(tmp_path / "b.tar.gz")
    assert first == second == hashlib.sha256((tmp_path / "a.tar.gz").read_bytes()).hexdigest()
    expected = {p["sha256"] for p in manifest()["spec"]["platforms"]}
    assert expected == {first}, "rebuild the archive and update sha256 in podwarden.yaml"
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
        bins = {p["bin"] for p in manifest()["spec"]["platforms"]}
        assert bins <= set(names)
        assert all(tar.getmember(b).mode & 0o111 for b in bins)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_the_launcher_runs_the_plugin_through_kubectl(tmp_path: Path) -> None:
    build(tmp_path / "plugin.tar.gz")
    installed = tmp_path / "krew-bin"
    with tarfile.open(tmp_path / "plugin.tar.gz") as tar:
        tar.extractall(installed, filter="data")
    env = {
        **os.environ,
        "PATH": f"{installed}{os.pathsep}{os.environ['PATH']}",
        "PODWARDEN_PYTHON": sys.executable,
        "HOME": str(tmp_path),
    }
    listed = subprocess.run(["kubectl", "plugin", "list"], capture_output=True, text=True, env=env)
    plugins = [line for line in listed.stdout.splitlines() if line.startswith("/")]
    assert plugins[0] == f"{installed}/kubectl-podwarden", listed.stdout
    shown = subprocess.run(
        ["kubectl", "podwarden", "--version"], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0 and __version__ in shown.stdout, shown.stderr
    missing = subprocess.run(
        ["kubectl", "podwarden", "--version"],
        capture_output=True,
        text=True,
        env={**env, "PODWARDEN_PYTHON": str(tmp_path / "no-such-python")},
    )
    assert missing.returncode == 127
    assert "the podwarden package is not installed" in missing.stderr
