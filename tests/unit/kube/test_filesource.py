"""--cluster-file: the same view from a YAML stream, reloaded when the file changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from podwarden.config import ConfigError
from podwarden.kube import filesource, store
from tests.support.pods import namespace, pod


def write(path: Path, *objects: dict) -> None:
    path.write_text(yaml.safe_dump_all(objects), encoding="utf-8")


async def eventually(check, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_file_is_loaded_and_followed(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    first = pod("web", "10.2.0.1", uid="w")
    del first["metadata"]["uid"]  # hand-written files have no uids
    write(path, namespace("default", {"iam.amazonaws.com/permitted": ".*"}), first)
    view = store.ClusterView()
    task = filesource.run(view, path, poll_interval=0.02)
    try:
        await asyncio.wait_for(view.synced.wait(), 2)
        assert view.pod_by_ip("10.2.0.1").kind == "one"
        ns = view.namespace("default")
        assert ns is not None and "iam.amazonaws.com/permitted" in ns.annotations

        moved = dict(first, status={"phase": "Running", "podIP": "10.2.0.2"})
        write(path, namespace("default"), moved)
        await eventually(lambda: view.pod_by_ip("10.2.0.2").kind == "one")
        assert view.pod_by_ip("10.2.0.1").kind == "none"
        ns = view.namespace("default")
        assert ns is not None and ns.annotations == {}

        path.write_text("kind: [unclosed", encoding="utf-8")  # broken: keep the last good view
        await asyncio.sleep(0.2)
        assert view.pod_by_ip("10.2.0.2").kind == "one"

        write(path, namespace("default"))
        await eventually(lambda: not view.pods())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_list_document_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    write(path, {"kind": "List", "items": [pod("a", "10.3.0.1"), pod("b", "10.3.0.2")]})
    loaded = filesource.load(path)
    assert [p["metadata"]["name"] for p in loaded["Pod"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Service\nmetadata: {name: x}\n", r"document 1: kind: 'Service' is not accepted"),
        ("kind: Pod\nmetadata: {}\n", r"document 1: metadata.name: required"),
        ("- 1\n", r"document 1: expected a Pod or Namespace object, got list"),
        ("kind: Pod\n  bad: [\n", r"cluster.yaml:\d+:\d+: not valid YAML"),
    ],
)
def test_unusable_files_name_the_document_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        filesource.load(path)


async def test_first_load_failure_fails_the_task(tmp_path: Path) -> None:
    view = store.ClusterView()
    with pytest.raises(ConfigError, match="cannot read"):
        await filesource.run(view, tmp_path / "missing.yaml", poll_interval=0.01)
    assert not view.synced.is_set()
