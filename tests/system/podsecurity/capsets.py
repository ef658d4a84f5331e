"""The runtime's capability set for a container: shared with the demo (lab.capabilities)."""

from __future__ import annotations

from podwarden.lab.capabilities import RUNTIME_DEFAULT, container_capabilities, setpriv_argv

__all__ = ["RUNTIME_DEFAULT", "container_capabilities", "setpriv_argv"]
