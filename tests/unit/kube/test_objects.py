"""Pod and Namespace views: the fields identity decisions read, with safe defaults."""

from __future__ import annotations

from podwarden.kube.objects import Namespace, Pod


def test_ips_come_from_pod_ips_then_pod_ip_canonical_and_unique() -> None:
    pod = Pod(
        {
            "status": {
                "podIP": "10.0.0.1",
                "podIPs": [{"ip": "10.0.0.1"}, {"ip": "FD00:0::1"}, {"ip": "junk"}],
            }
        }
    )
    assert pod.ips == ("10.0.0.1", "fd00::1")
    assert Pod({"status": {"podIP": "10.0.0.2"}}).ips == ("10.0.0.2",)
    assert Pod({}).ips == ()


def test_defaults_for_missing_fields() -> None:
    pod = Pod({"metadata": {"name": "p"}})
    assert (pod.namespace, pod.phase, pod.service_account, pod.node_name) == (
        "default",
        "Pending",
        "default",
        "",
    )
    assert pod.annotations == {} and pod.deletion_timestamp is None
    assert not pod.host_network and not pod.owns_its_ips  # no IP: owns nothing


def test_typed_fields() -> None:
    pod = Pod(
        {
            "metadata": {
                "name": "p",
                "namespace": "ns",
                "uid": "u",
                "resourceVersion": "7",
                "annotations": {"a": "b"},
                "labels": {"l": "v"},
            },
            "spec": {"nodeName": "n", "serviceAccountName": "sa", "hostNetwork": True},
            "status": {"phase": "Running", "podIP": "10.0.0.3"},
        }
    )
    assert (pod.key, pod.uid, pod.resource_version, pod.node_name) == ("ns/p", "u", "7", "n")
    assert (pod.service_account, pod.labels, pod.annotations) == ("sa", {"l": "v"}, {"a": "b"})
    assert pod.host_network and not pod.owns_its_ips


def test_malformed_json_never_raises() -> None:
    pod = Pod({"metadata": "x", "spec": [], "status": {"podIPs": "10.0.0.1"}})
    assert (pod.name, pod.ips, pod.phase) == ("", (), "Pending")
    assert Namespace({"metadata": {"name": "n", "annotations": {"k": None}}}).annotations == {}
    assert Namespace({"metadata": {"name": "n"}}).phase == "Active"
