"""Every command the migration guides show is run, or is a reviewed exception.

A guide's shell blocks carry a marker in their info string:

- `sh runnable` (optionally `exit=N`, default 0): run here, in order, each block in
  `bash -euo pipefail`, with a fresh lab API server as the cluster ($KUBECONFIG),
  real kubectl, the venv's `podwarden` and `kubectl-podwarden` on PATH, and a
  working directory holding the repository's docs/, examples/ and deploy/;
- `sh needs-cluster` / `sh needs-cloud`: not run — they need a real cluster or a
  cloud account. Each such block is listed in NOT_RUN below by its first line, so
  adding one fails this test until someone has reviewed it and listed it here.

A shell block without a marker fails the test: nothing shown goes unchecked.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podwarden.lab.apiserver.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDES = sorted(DOCS.glob("migrate-*.md"))
SHELLS = {"sh", "bash", "shell", "console"}
NOT_RUN_MARKERS = {"needs-cluster", "needs-cloud"}
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)

NOT_RUN: dict[str, list[str]] = {
    "migrate-from-gke-metadata-concealment.md": [
        "needs-cloud: gcloud container node-pools create pw-pool --cluster "
        '"$CLUSTER" --workload-metadata=GCE_METADATA',
    ],
    "migrate-from-kube2iam-and-kiam.md": [
        "needs-cluster: kubectl -n kube-system delete daemonset kube2iam",
        "needs-cluster: kubectl podwarden audit --fail-on high",
    ],
    "migrate-from-kyverno-gatekeeper-pss.md": [
        "needs-cluster: kubectl delete clusterpolicy disallow-privileged-containers "
        "disallow-host-namespaces disallow-host-path",
    ],
    "migrate-from-podsecuritypolicy.md": [
        "needs-cluster: kubectl get podsecuritypolicies -o yaml > psp.yaml",
        "needs-cluster: kubectl apply -f deploy/webhook/",
    ],
}


@dataclass(frozen=True)
class Block:
    guide: str
    line: int
    markers: tuple[str, ...]
    script: str

    @property
    def runnable(self) -> bool:
        return "runnable" in self.markers

    @property
    def expected_exit(self) -> int:
        for marker in self.markers:
            if marker.startswith("exit="):
                return int(marker.removeprefix("exit="))
        return 0

    def first_line(self) -> str:
        return self.script.strip().splitlines()[0]


def blocks(guide: Path) -> list[Block]:
    text = guide.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        words = match.group(1).split()
        if not words or words[0] not in SHELLS:
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(guide.name, line, tuple(words[1:]), match.group(2)))
    return found


def test_there_are_four_guides_and_the_readme_links_each() -> None:
    assert [g.name for g in GUIDES] == sorted(NOT_RUN)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for guide in GUIDES:
        assert f"docs/{guide.name}" in readme, f"README does not link {guide.name}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda g: g.stem)
def test_every_shell_block_is_marked_and_exceptions_are_reviewed(guide: Path) -> None:
    found = blocks(guide)
    unmarked = [b.line for b in found if not b.runnable and not NOT_RUN_MARKERS & set(b.markers)]
    assert not unmarked, f"{guide.name}: shell blocks at lines {unmarked} have no marker"
    not_run = [
        f"{next(m for m in b.markers if m in NOT_RUN_MARKERS)}: {b.first_line()}"
        for b in found
        if not b.runnable
    ]
    assert not_run == NOT_RUN[guide.name]
    assert sum(b.runnable for b in found) >= 2, "a guide shows at least two runnable steps"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for name in ("docs", "examples", "deploy"):
        (work / name).symlink_to(ROOT / name)
    return work


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with ServerThread(bookmark_interval=0.2) as lab:
        config = tmp_path / "kubeconfig"
        config.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
            f"clusters: [{{name: lab, cluster: {{server: '{lab.url}'}}}}]\n"
            "users: [{name: lab, user: {}}]\n"
            "contexts: [{name: lab, context: {cluster: lab, user: lab, namespace: default}}]\n",
            encoding="utf-8",
        )
        home = tmp_path / "home"
        home.mkdir()
        yield {
            **os.environ,
            "KUBECONFIG": str(config),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "KUBECACHEDIR": str(tmp_path / "kube-cache"),
        }


def _run(block: Block, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"{block.guide}:{block.line}: timed out\n{out}\n{err}") from None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
@pytest.mark.parametrize("guide", GUIDES, ids=lambda g: g.stem)
def test_runnable_blocks_run_as_shown(
    guide: Path, cluster_env: dict[str, str], workdir: Path
) -> None:
    for block in blocks(guide):
        if not block.runnable:
            continue
        result = _run(block, cluster_env, workdir)
        assert result.returncode == block.expected_exit, (
            f"{guide.name}:{block.line}: exit {result.returncode}, expected "
            f"{block.expected_exit}\n--- script\n{block.script}--- stdout\n{result.stdout}"
            f"--- stderr\n{result.stderr}"
        )
