"""The shared pod readers: present fields read as written, malformed ones as absent."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.api import pods

WELL_FORMED: dict[str, Any] = {
    "metadata": {"name": "web", "annotations": {"a": "1"}},
    "spec": {
        "serviceAccountName": "shop-sa",
        "runtimeClassName": "gvisor",
        "initContainers": [{"name": "init"}],
        "containers": [{"name": "app"}],
    },
}


def test_well_formed_pod_reads_as_written() -> None:
    assert pods.annotations_of(WELL_FORMED) == {"a": "1"}
    assert pods.service_account(WELL_FORMED) == "shop-sa"
    assert pods.runtime_class(WELL_FORMED) == "gvisor"
    assert pods.container_list(WELL_FORMED, "initContainers") == [{"name": "init"}]
    assert pods.container_list(WELL_FORMED, "ephemeralContainers") == []
    assert pods.field(WELL_FORMED, "metadata", "name") == "web"


def test_deprecated_service_account_field_and_the_default() -> None:
    assert pods.service_account({"spec": {"serviceAccount": "old"}}) == "old"
    assert pods.service_account({"spec": {"serviceAccountName": ""}}) == "default"
    assert pods.service_account({}) == "default"


@pytest.mark.parametrize(
    "pod",
    [
        {},
        {"metadata": "x", "spec": "y"},
        {"metadata": {"annotations": ["a"]}, "spec": {"runtimeClassName": 3}},
        {"metadata": None, "spec": None},
    ],
    ids=["empty", "scalars", "wrong-types", "nulls"],
)
def test_malformed_fields_read_as_absent(pod: dict[str, Any]) -> None:
    assert pods.annotations_of(pod) == {}
    assert pods.service_account(pod) == "default"
    assert pods.runtime_class(pod) == ""
    assert pods.field(pod, "metadata", "annotations", "a") is None


def test_container_list_tells_unset_from_malformed() -> None:
    assert pods.container_list({"spec": {}}, "containers") == []
    assert pods.container_list({"spec": {"containers": "app"}}, "containers") is None
    assert pods.container_list({"spec": "x"}, "containers") is None


def test_container_keys_are_every_list_in_kubernetes_order() -> None:
    assert pods.CONTAINER_KEYS == ("initContainers", "containers", "ephemeralContainers")
