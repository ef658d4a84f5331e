"""--cluster-file with other kinds: refused by default, skipped when asked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from podwarden.config import ConfigError
from podwarden.kube import filesource, store
from tests.support.pods import namespace, pod

ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}


def write(path: Path, *objects: object) -> Path:
    path.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    return path


def test_other_kinds_are_refused_by_default(tmp_path: Path) -> None:
    path = write(tmp_path / "dump.yaml", namespace("team"), SERVICE)
    with pytest.raises(ConfigError, match=r"document 2: kind: 'Service' is not accepted"):
        filesource.load(path)


def test_other_kinds_are_skipped_when_asked_even_inside_a_list(tmp_path: Path) -> None:
    dump = {"kind": "List", "items": [ROLE, pod("web", "10.1.0.1"), SERVICE]}
    path = write(tmp_path / "dump.yaml", namespace("team"), dump)
    found = filesource.load(path, skip_other_kinds=True)
    assert [n["metadata"]["name"] for n in found["Namespace"]] == ["team"]
    assert [p["metadata"]["name"] for p in found["Pod"]] == ["web"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n", r"document 1: expected a Pod or Namespace object, got list"),
        ("metadata: {name: x}\n", r"document 1: kind: None is not accepted"),
        ("kind: Namespace\nmetadata: {}\n", r"document 1: metadata.name: required"),
    ],
)
def test_skipping_never_hides_a_malformed_object(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "dump.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        filesource.load(path, skip_other_kinds=True)


def test_objects_say_where_each_came_from(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", SERVICE, {"kind": "List", "items": [ROLE, ROLE]})
    assert [where for where, _ in filesource.objects(path)] == [
        f"{path}: document 1",
        f"{path}: document 2: items[0]",
        f"{path}: document 2: items[1]",
    ]


async def test_a_followed_file_with_other_kinds_feeds_the_view(tmp_path: Path) -> None:
    path = write(tmp_path / "dump.yaml", SERVICE, pod("web", "10.1.0.1"), namespace("team"))
    view = store.ClusterView()
    task = filesource.run(view, path, poll_interval=0.02, skip_other_kinds=True)
    try:
        await asyncio.wait_for(view.synced.wait(), 2)
        assert view.pod_by_ip("10.1.0.1").kind == "one"
        write(path, SERVICE, ROLE, namespace("team"))  # the pod goes; other kinds still skipped
        for _ in range(150):
            if not view.pods():
                break
            await asyncio.sleep(0.02)
        assert not view.pods()
        assert view.namespace("team") is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
