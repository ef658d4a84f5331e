"""`identity.local`: the node's own addresses are recognised by the kernel, in a namespace.

A host-network caller carries a node address; identity must answer it at once
(no pod owns it) instead of waiting for a watch event. The test gives a fresh
network namespace a real address and asks from inside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from podwarden.lab import netns

PROBE = (
    "import json, sys; from podwarden.metadata.identity import local; "
    "print(json.dumps([local.is_local(a) for a in sys.argv[1:]]))"
)


ADDRESSES = ["10.98.0.1", "fd98::1", "10.98.0.2", "fd98::2", "127.0.0.1", "not-an-ip"]


def test_node_addresses_are_local_and_pod_addresses_are_not():
    tracker = netns.Tracker(prefix=f"pwl{uuid.uuid4().hex[:4]}-")
    try:
        node = tracker.add_netns("node")
        netns.ip("link", "add", "pwdummy0", "type", "veth", "peer", "name", "pwdummy1", netns=node)
        netns.ip("addr", "add", "10.98.0.1/24", "dev", "pwdummy0", netns=node)
        netns.ip("addr", "add", "fd98::1/64", "dev", "pwdummy0", "nodad", netns=node)
        netns.ip("link", "set", "pwdummy0", "up", netns=node)
        got = subprocess.run(
            ["ip", "netns", "exec", node, sys.executable, "-c", PROBE, *ADDRESSES],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert json.loads(got.stdout) == [True, True, False, False, False, False]
    finally:
        assert tracker.close() == []
