"""The plain manifests under deploy/ are the chart rendered with fixed values.

`make manifests` writes them (`python -m deploytools.manifests --write`); `--check`
(and tests/unit/deploy/test_rendered_manifests.py) fails when a file differs from what
the chart renders now, so the chart stays the one place to edit.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import yaml

from deploytools import helm

VALUES = helm.REPO / "deploy" / "helm" / "manifests.values.yaml"
# chart file folder -> folder under deploy/
FOLDERS = {
    "templates/agent/": "deploy/agent/",
    "templates/webhook/": "deploy/webhook/",
    "templates/uninstall/": "deploy/uninstall/",
    "templates/nodeauth/": "deploy/nodeauth/",
    "crds/": "deploy/crds/",
}
# Chart files that render a ConfigMap of files a host reads from disk (kube-apiserver's
# --authorization-config and the webhook kubeconfig it names), not API objects to apply:
# each data key is written as its own file in the folder, and the ConfigMap is not.
HOST_FILES = frozenset({"templates/nodeauth/apiserver-files.yaml"})
HEADER = (
    "# Rendered from deploy/helm/podwarden by `make manifests` "
    "(deploy/helm/manifests.values.yaml): edit the chart, not this file.\n"
)


def render() -> dict[str, str]:
    """Repository-relative path -> the text the chart renders for it."""
    stream = helm.template(values=[VALUES], include_crds=True)
    files: dict[str, str] = {}
    for source, texts in helm.by_source(stream).items():
        for prefix, folder in FOLDERS.items():
            if not source.startswith(prefix):
                continue
            if source in HOST_FILES:
                for text in texts:
                    for name, content in yaml.safe_load(text)["data"].items():
                        files[folder + name] = HEADER + content
            else:
                target = folder + source.removeprefix(prefix)
                files[target] = HEADER + "---\n".join(texts)
    return files


def stale(files: dict[str, str], *, repo: Path = helm.REPO) -> list[str]:
    """Paths (repository-relative) whose content differs, plus YAML files nothing renders."""
    out = [path for path, text in files.items() if _read(repo / path) != text]
    for folder in FOLDERS.values():
        for path in sorted((repo / folder).glob("*.yaml")):
            relative = str(path.relative_to(repo))
            if relative not in files:
                out.append(relative)
    return sorted(out)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write(files: dict[str, str], *, repo: Path = helm.REPO) -> list[str]:
    changed = stale(files, repo=repo)
    for path in changed:
        target = repo / path
        if path in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[path], encoding="utf-8")
        else:
            target.unlink()
    return changed


def diff(files: dict[str, str], *, repo: Path = helm.REPO) -> str:
    lines: list[str] = []
    for path in stale(files, repo=repo):
        old = (_read(repo / path) or "").splitlines(keepends=True)
        new = files.get(path, "").splitlines(keepends=True)
        lines += difflib.unified_diff(old, new, f"a/{path}", f"b/{path} (rendered)")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the rendered files")
    mode.add_argument("--check", action="store_true", help="exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    try:
        files = render()
    except helm.HelmError as exc:
        print(f"make manifests: {exc}", file=sys.stderr)
        return 2
    if args.write:
        for path in write(files):
            print(f"wrote {path}" if path in files else f"removed {path}")
        return 0
    out = diff(files)
    if out:
        sys.stdout.write(out)
        print("deploy/ is out of date with the chart: run `make manifests`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
