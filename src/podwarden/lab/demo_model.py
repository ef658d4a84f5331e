"""What every demo act shares: the row of the before/after table and its context."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from podwarden.lab.topology import Lab


@dataclass(frozen=True)
class Row:
    """A check as seen without podwarden and with it, and whether that was expected."""

    act: str
    check: str
    before: str
    after: str
    expected: str
    ok: bool


class ActContext(Protocol):
    """What an act receives: output, and labs it may open (always torn down)."""

    @property
    def echo(self) -> Callable[[str], None]:
        """Where the act prints its commands and their results."""
        ...

    def lab(self, *, provider: str = "aws", proxy: bool = False) -> AbstractContextManager[Lab]:
        """A lab for the duration of a `with` block."""
        ...
