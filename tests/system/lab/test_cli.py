"""`podwarden lab up|status|exec|down` as a user runs them, each a separate process."""

from __future__ import annotations

import json
import subprocess

from podwarden.lab import state, topology

from .conftest import assert_clean, namespaces_with

PODWARDEN = topology.podwarden_argv()


def cli(where, *args, env=None, timeout=60):
    return subprocess.run(
        [*PODWARDEN, *args],
        capture_output=True,
        text=True,
        env={**where.env, **(env or {})},
        timeout=timeout,
        check=False,
    )


def test_up_status_exec_down_round_trip_leaves_nothing(where):
    up = cli(where, "lab", "up", "--no-proxy", "--pods", "2", "--provider", "azure")
    assert up.returncode == 0, up.stderr
    recorded = state.load(state_dir=where.state_dir)
    assert recorded is not None
    try:
        assert namespaces_with(where.prefix) == sorted(
            f"{where.prefix}{n}" for n in ("node", "cloud", "pod-a", "pod-b")
        )
        status = json.loads(cli(where, "lab", "status", "--format", "json").stdout)
        assert status["up"] is True and status["provider"] == "azure" and not status["proxy"]
        assert all(status["namespaces_alive"].values())
        assert status["processes_alive"] == {"cloud": True, "apiserver": True}
        table = cli(where, "lab", "status").stdout
        assert "lab up: provider azure, proxy off" in table

        # exec: the command's exit code and the caller's environment pass through
        ran = cli(
            where,
            "lab",
            "exec",
            "pod-b",
            "--",
            "sh",
            "-c",
            'echo "$PW_DEMO_VALUE"; ip -4 -o addr show dev eth0; exit 7',
            env={"PW_DEMO_VALUE": "passed-through"},
        )
        assert ran.returncode == 7
        assert ran.stdout.startswith("passed-through\n")
        assert "10.77.2.2/24" in ran.stdout

        # the emulator answers from the pod (Azure's header rule shows it is the real one)
        got = topology.load(state_dir=where.state_dir).exec(
            "pod-a",
            [
                "curl",
                "-s",
                "-H",
                "Metadata:true",
                "http://169.254.169.254/metadata/instance/compute/location"
                "?api-version=2021-02-01&format=text",
            ],
        )
        assert got.returncode == 0 and got.stdout == "eastus"

        unknown = cli(where, "lab", "exec", "pod-q", "--", "true")
        assert unknown.returncode == 1 and "no pod 'pod-q'" in unknown.stderr
    finally:
        down = cli(where, "lab", "down")
    assert down.returncode == 0, down.stderr
    assert_clean(where, recorded.processes)
    assert cli(where, "lab", "down").returncode == 0  # again: nothing to do, no error
    assert "no lab is up" in cli(where, "lab", "status").stdout


def test_exec_without_a_lab_says_so(where):
    ran = cli(where, "lab", "exec", "pod-a", "--", "true")
    assert ran.returncode == 1
    assert "no lab is up" in ran.stderr
