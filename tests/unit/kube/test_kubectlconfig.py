"""kubectl's way of finding the cluster: --kubeconfig, $KUBECONFIG lists merged first-wins,
~/.kube/config; relative file references resolved against their own file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from podwarden.config import ConfigError
from podwarden.kube import kubectlconfig


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ONE = """\
apiVersion: v1
kind: Config
current-context: a
clusters:
- {name: c1, cluster: {server: "https://one.example:6443", certificate-authority: ca.pem}}
users:
- {name: u1, user: {token: one}}
contexts:
- {name: a, context: {cluster: c1, user: u1, namespace: team-a}}
"""
TWO = """\
apiVersion: v1
kind: Config
current-context: b
clusters:
- {name: c1, cluster: {server: "https://shadowed.example:6443"}}
- {name: c2, cluster: {server: "http://127.0.0.1:6443"}}
users:
- {name: u2, user: {token: two}}
contexts:
- {name: b, context: {cluster: c2, user: u2}}
"""


def test_candidate_files_follow_kubectls_precedence(tmp_path: Path) -> None:
    env = {"KUBECONFIG": f"{tmp_path}/a:{tmp_path}/b"}
    assert kubectlconfig.candidate_files("x.yaml", env) == [Path("x.yaml")]
    assert kubectlconfig.candidate_files(None, env) == [tmp_path / "a", tmp_path / "b"]
    assert kubectlconfig.candidate_files(None, {}) == [Path("~/.kube/config").expanduser()]


def test_merge_first_file_wins_names_and_current_context(tmp_path: Path) -> None:
    one = write(tmp_path / "one" / "config", ONE)
    two = write(tmp_path / "two" / "config", TWO)
    merged = kubectlconfig.merge([one, two], explicit=False)
    assert merged["current-context"] == "a"
    clusters = {c["name"]: c["cluster"] for c in merged["clusters"]}
    assert clusters["c1"]["server"] == "https://one.example:6443"
    assert clusters["c1"]["certificate-authority"] == str(tmp_path / "one" / "ca.pem")
    assert [c["name"] for c in merged["contexts"]] == ["a", "b"]


def test_connect_uses_the_context_and_its_namespace(tmp_path: Path, monkeypatch) -> None:
    one = write(tmp_path / "one", ONE)
    two = write(tmp_path / "two", TWO)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{one}:{two}")
    conn = kubectlconfig.connect(kubeconfig=None, context="b", namespace=None)
    try:
        assert conn.api.server == "http://127.0.0.1:6443" and conn.namespace == "default"
    finally:
        asyncio.run(conn.api.close())
    conn = kubectlconfig.connect(kubeconfig=str(two), context=None, namespace="x")
    try:
        assert conn.namespace == "x"
    finally:
        asyncio.run(conn.api.close())


@pytest.mark.parametrize(
    ("text", "context", "message"),
    [
        (TWO, "nope", "context 'nope' not found (known: b)"),
        ("apiVersion: v1\nkind: Config\n", None, "no kubeconfig with a context found"),
        ("[1, 2]\n", None, "a kubeconfig is a mapping"),
        (
            "contexts: [{name: x, context: {cluster: x}}]\nclusters: [{name: x, cluster: {server: "
            "'http://127.0.0.1:1'}}]\ncurrent-context: x\n",
            None,
            "kubeconfig context 'x' is incomplete",
        ),
        ("current-context: b\n", None, "no kubeconfig with a context found"),
    ],
)
def test_unusable_configurations_say_why(
    tmp_path: Path, text: str, context: str | None, message: str
) -> None:
    path = write(tmp_path / "config", text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kubectlconfig.connect(kubeconfig=str(path), context=context, namespace=None)


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such kubeconfig file"):
        kubectlconfig.connect(kubeconfig=str(tmp_path / "nope"), context=None, namespace=None)
