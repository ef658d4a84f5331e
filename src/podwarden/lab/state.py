"""The lab's state file: what `lab up` created, so later invocations can undo it.

`podwarden lab up` returns while the lab keeps running; `down`, `status` and
`exec` run as separate processes. They learn what exists from one JSON file
under /run/podwarden-lab/ (tmpfs: a reboot forgets a lab that a reboot also
destroyed). The file is rewritten after every step of `up`, so even a lab
that failed half-way can be torn down from what was recorded.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_DIR = Path("/run/podwarden-lab")
STATE_FILE_NAME = "state.json"


class StateError(Exception):
    """The state file exists but cannot be read as a lab state."""


@dataclass
class ProcessRecord:
    """A process the lab started: enough to find it again and only it.

    `start_ticks` is the process start time from /proc/PID/stat, so a PID
    that the kernel reused for someone else's process is never signalled.
    """

    name: str
    pid: int
    start_ticks: int
    netns: str
    argv: list[str]
    log: str


@dataclass
class LabState:
    """Everything `lab down` needs: namespaces, processes, and the plan's facts.

    `kubeconfig` is the lab API server's kubeconfig ("" before it is written);
    `sts` is "moto" once moto serves the lab's AWS, else "none".
    """

    prefix: str
    provider: str
    pods: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    proxy: bool = False
    interception: str = "lab-dnat"
    ready: bool = False
    kubeconfig: str = ""
    sts: str = "none"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (also what `lab status --format json` prints)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        """Rebuild a state from `to_json` output; raises StateError when malformed."""
        try:
            processes = [ProcessRecord(**p) for p in data.get("processes", [])]
            return cls(
                prefix=str(data["prefix"]),
                provider=str(data["provider"]),
                pods=[str(p) for p in data.get("pods", [])],
                namespaces=[str(n) for n in data.get("namespaces", [])],
                processes=processes,
                proxy=bool(data.get("proxy", False)),
                interception=str(data.get("interception", "lab-dnat")),
                ready=bool(data.get("ready", False)),
                kubeconfig=str(data.get("kubeconfig", "")),
                sts=str(data.get("sts", "none")),
            )
        except (KeyError, TypeError) as exc:
            raise StateError(f"lab state is malformed ({exc})") from exc


def state_path(state_dir: Path = STATE_DIR) -> Path:
    """Where the state file of a lab rooted at `state_dir` lives."""
    return state_dir / STATE_FILE_NAME


def save(state: LabState, *, state_dir: Path = STATE_DIR) -> None:
    """Write the state atomically (write a temporary file, then rename)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_path(state_dir)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    os.replace(tmp, target)


def load(*, state_dir: Path = STATE_DIR) -> LabState | None:
    """The recorded state, or None when no lab was recorded."""
    path = state_path(state_dir)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read {path} ({exc})") from exc
    if not isinstance(data, dict):
        raise StateError(f"{path} does not hold a JSON object")
    return LabState.from_json(data)


def forget(*, state_dir: Path = STATE_DIR) -> None:
    """Remove the state file (the logs stay for post-mortems)."""
    state_path(state_dir).unlink(missing_ok=True)
