"""Find the cluster the way kubectl does: `--kubeconfig`, else `$KUBECONFIG`, else
`~/.kube/config`; `--context` picks the context; the namespace is `-n`, else the context's.

Why here and not in `client.from_kubeconfig`: a kubectl plugin is run with the
user's environment and the flags typed after the plugin's name, and kubectl does
not resolve them for it. Users expect `kubectl podwarden …` to talk to the same
cluster as `kubectl get pods`, so `$KUBECONFIG` may list several files
(`a:b`), merged as kubectl merges them: the first file that names a cluster,
user or context wins it, and `current-context` comes from the first file that
sets one. Relative file references (certificate-authority, client-certificate,
client-key, tokenFile) are resolved against the file that holds them before the
merge, as kubectl does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podwarden.config import ConfigError
from podwarden.kube import client

DEFAULT_PATH = "~/.kube/config"
_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))
_PATH_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


@dataclass
class Connection:
    """An API connection and the namespace a command defaults to."""

    api: client.Api
    namespace: str
    source: str  # which file(s) the configuration came from, for messages


def candidate_files(flag: str | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The files kubectl would read, in precedence order."""
    env = os.environ if environ is None else environ
    if flag:
        return [Path(flag).expanduser()]
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [Path(p).expanduser() for p in listed]
    return [Path(DEFAULT_PATH).expanduser()]


def _absolute(entry: Any, base: Path) -> Any:
    if not isinstance(entry, dict):
        return entry
    fixed = dict(entry)
    for key in _PATH_KEYS:
        value = fixed.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            fixed[key] = str((base / value).resolve())
    return fixed


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the kubeconfig: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the kubeconfig is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a kubeconfig is a mapping (apiVersion: v1, kind: Config)")
    return data


def merge(paths: list[Path], *, explicit: bool) -> dict[str, Any]:
    """One kubeconfig from `paths`, first file wins each name. A missing file is an error
    when named by --kubeconfig (`explicit`), skipped in $KUBECONFIG, as kubectl does."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    seen: dict[str, set[str]] = {section: set() for section, _ in _SECTIONS}
    for path in paths:
        if not path.is_file():
            if explicit:
                raise ConfigError(f"{path}: no such kubeconfig file")
            continue
        data = _read(path)
        if merged.get("current-context") is None and data.get("current-context"):
            merged["current-context"] = data["current-context"]
        for section, inner in _SECTIONS:
            for item in data.get(section) or []:
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str) or name in seen[section]:
                    continue
                seen[section].add(name)
                merged[section].append(
                    {"name": name, inner: _absolute(item.get(inner), path.parent)}
                )
    return merged


def connect(*, kubeconfig: str | None, context: str | None, namespace: str | None) -> Connection:
    """Connect as kubectl would with these global flags; ConfigError says what is missing."""
    paths = candidate_files(kubeconfig)
    source = os.pathsep.join(str(p) for p in paths)
    merged = merge(paths, explicit=kubeconfig is not None)
    if not merged["contexts"]:
        raise ConfigError(
            f"{source}: no kubeconfig with a context found "
            "(give --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config)"
        )
    wanted = context or merged.get("current-context")
    if not wanted:
        raise ConfigError(f"{source}: no current-context; give --context NAME")
    names = [c["name"] for c in merged["contexts"]]
    if wanted not in names:
        raise ConfigError(f"{source}: context {wanted!r} not found (known: {', '.join(names)})")
    api = client.from_config_dict(merged, context=wanted)
    return Connection(
        api=api, namespace=namespace or api.config.namespace or "default", source=source
    )
