"""Host-network pods: a process in the pod cgroup, in the node's own namespace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podwarden.netfilter import endpoints
from tests.system.netfilter import cgroups
from tests.system.netfilter.conftest import BACKENDS
from tests.system.netfilter.lab import NODE_POD_V4, Lab, stop

PROXY_PORT = 18182
IMDS = f"http://{endpoints.IMDS_V4}/latest/meta-data/instance-id"
ROOT, WHY = cgroups.v2_root_or_reason()


def in_cgroup_get(lab: Lab, directory: Path, url: str) -> dict[str, object]:
    """Run the client in the node namespace after joining `directory` (a pod cgroup)."""
    argv = lab.helper("client", "once", url, "2")
    proc = lab.run_in(
        lab.node, ["sh", "-c", f'echo $$ > {directory}/cgroup.procs && exec "$@"', "sh", *argv]
    )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.skipif(ROOT is None, reason=f"needs a writable cgroup v2 hierarchy: {WHY}")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("listen", [NODE_POD_V4, "127.0.0.1"])
def test_pod_cgroup_process_is_proxied_or_refused_node_process_is_not(
    lab: Lab, backend: str, listen: str
):
    assert ROOT is not None
    with cgroups.pod_cgroup(ROOT) as (path, directory):
        proxy = lab.spawn(lab.node, lab.helper("fakeproxy", f"{listen}:{PROXY_PORT}"))
        lab.podwarden(
            "rules",
            "apply",
            "--provider",
            "aws",
            "--pod-interface",
            "cali+",
            "--backend",
            backend,
            "--proxy",
            f"{listen}:{PROXY_PORT}",
            "--pod-cgroup",
            path,
        )
        hostnet_pod = in_cgroup_get(lab, directory, IMDS)
        assert hostnet_pod["outcome"] == "ok", hostnet_pod
        assert str(hostnet_pod["body"]).startswith("PROXY"), hostnet_pod
        node = lab.get(lab.node, IMDS)
        assert node["outcome"] == "ok" and str(node["body"]).startswith("UPSTREAM"), node
        assert (
            in_cgroup_get(lab, directory, f"http://{endpoints.WIRESERVER_V4}:32526/")["outcome"]
            == "refused"
        )
        stop(proxy)
        refused = in_cgroup_get(lab, directory, IMDS)
        assert refused["outcome"] == "refused" and float(refused["ms"]) < 100, refused  # type: ignore[arg-type]
        upstream_paths = [line for line in lab.log.read_text().splitlines()]
        # exactly one upstream request: the node process's; none from the cgroup's process
        assert len(upstream_paths) == 1, upstream_paths
