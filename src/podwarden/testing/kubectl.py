"""Real kubectl as the oracle for how a manifest is read: `kubectl create --dry-run=client`.

kubectl needs an API server for discovery even in client dry-run, so it talks to a
lab API server (podwarden.lab.apiserver, the repository's stand-in for one). The
answer is what kubectl would send: the objects after its YAML reading, or its
error. Validation is off (`--validate=false`) so the reading is seen even for
objects the lab's schema would refuse. Used by the corpus test and the YAML fuzz
target; the product never imports it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {{server: "{url}"}}
users:
- name: lab
  user: {{}}
contexts:
- name: lab
  context: {{cluster: lab, user: lab, namespace: default}}
current-context: lab
"""
"""A kubeconfig for a lab API server without authentication (`.format(url=...)`)."""
_ERROR = re.compile(
    r"^(?:error: )?(?:error parsing|unable to decode|unable to recognize|error validating) "
    r'"?(?P<file>[^":]+?)"?: (?P<reason>.*)$'
)


def available() -> bool:
    return shutil.which("kubectl") is not None


@dataclass
class Reading:
    """kubectl's reading of one file: the objects it read and, when it refused (part
    of) the file, why. kubectl goes on after a bad document: both can be set."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


@dataclass
class Kubectl:
    """kubectl pointed at a lab API server through its own kubeconfig and cache."""

    kubeconfig: Path

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECACHEDIR": str(self.kubeconfig.parent / "kubectl-cache")}
        env.pop("KUBECONFIG", None)
        return subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", "--request-timeout=20s", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )

    def read(self, path: Path) -> Reading:
        """kubectl's reading of one file (or of every file in a folder, in its order)."""
        done = self._run(
            "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(path)
        )
        objects = list(_json_stream(done.stdout))
        if done.returncode != 0:
            return Reading(objects, done.stderr.strip() or f"exit {done.returncode}")
        return Reading(objects)

    def read_folder(self, folder: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """One kubectl run over a folder: the objects it read (in file order) and, by
        file name, the error of each file it refused."""
        done = self._run(
            "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(folder)
        )
        errors: dict[str, str] = {}
        for line in done.stderr.splitlines():
            match = _ERROR.match(line.strip())
            if match:
                errors[Path(match["file"]).name] = match["reason"]
        return list(_json_stream(done.stdout)), errors


def _json_stream(text: str) -> Iterator[dict[str, Any]]:
    """The objects kubectl printed (one JSON value after another; a List is flattened)."""
    decoder = json.JSONDecoder()
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return
        value, index = decoder.raw_decode(text, index)
        if isinstance(value, dict) and value.get("kind") == "List":
            yield from value.get("items") or []
        elif isinstance(value, dict):
            yield value


def as_sent(podwarden_object: Any, kubectl_object: dict[str, Any]) -> dict[str, Any]:
    """kubectl's object minus what kubectl adds itself: the context's namespace when the
    manifest had none."""
    out = dict(kubectl_object)
    meta = out.get("metadata")
    ours = podwarden_object.get("metadata") if isinstance(podwarden_object, dict) else None
    added = not (isinstance(ours, dict) and "namespace" in ours)
    if isinstance(meta, dict) and added and meta.get("namespace") == "default":
        out["metadata"] = {k: v for k, v in meta.items() if k != "namespace"}
    return out


@contextmanager
def lab_kubectl(folder: Path) -> Iterator[Kubectl]:
    """A lab API server on loopback and a Kubectl pointed at it, for the block."""
    from podwarden.lab.apiserver.server import ServerThread

    folder.mkdir(parents=True, exist_ok=True)
    with ServerThread() as server:
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(KUBECONFIG.format(url=server.url), encoding="utf-8")
        yield Kubectl(kubeconfig)
