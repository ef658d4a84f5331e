"""JSON log lines: structlog for everything, a batched writer for per-request access lines.

structlog's processor chain (level, timestamp, JSON renderer, print + flush)
costs about 20 µs a line, as much as serving a cached metadata answer. Access
lines are fixed-shape and numerous, so `AccessLog` writes them pre-serialised,
batched, to the same stream: flushed when the batch passes `max_bytes`, after
`max_delay` seconds, on `flush()` (the proxy calls it when it stops) and at
exit. They carry the same fields structlog would add (event, component, level,
timestamp), so a log reader sees one format.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
import weakref
from typing import Any

import structlog

_INFO = logging.INFO
_state: dict[str, object] = {"stream": None, "level": _INFO}
_buffers: weakref.WeakSet[AccessLog] = weakref.WeakSet()


def configure(*, level: str = "info", stream: object = None) -> None:
    """Emit one JSON object per line on stderr (or `stream`)."""
    numeric = logging.getLevelName(level.upper())
    flush()  # lines batched for the previous stream go there, not to the new one
    _state["stream"], _state["level"] = stream, numeric
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to a component name."""
    return structlog.get_logger(component=name)  # type: ignore[no-any-return]


def current_level() -> int:
    """The level set by the last `configure` (numeric, as in `logging`)."""
    level = _state["level"]
    return level if isinstance(level, int) else _INFO


def flush() -> None:
    """Write out every batched access line now (tests, shutdown, reconfiguration)."""
    for buffer in list(_buffers):
        buffer.flush()


class AccessLog:
    """Info-level lines of one component, batched.

    `write(members)` takes the line's own JSON members already serialised
    (`"client": "10.0.0.5", "status": 200`); the common fields are appended.
    """

    def __init__(self, component: str, *, max_bytes: int = 65536, max_delay: float = 0.1) -> None:
        self._suffix = f', "event": "request", "component": "{component}", "level": "info"'
        self._max_bytes = max_bytes
        self._max_delay = max_delay
        self._lines: list[str] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._second_text = ""
        _buffers.add(self)

    @property
    def enabled(self) -> bool:
        """False when the configured level hides info lines."""
        level = _state["level"]
        return not isinstance(level, int) or level <= _INFO

    def line(self, members: str) -> str:
        """The whole line for `members`: exactly what `json.dumps` writes for the same dict.

        Built by hand because it is measurably cheaper: `bench/access_log.py`
        measures both (bench/RESULTS.md), and a test checks the two agree byte
        for byte.
        """
        return f'{{{members}{self._suffix}, "timestamp": "{self._timestamp()}"}}\n'

    def write(self, members: str) -> None:
        line = self.line(members)
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self._max_bytes:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop: nothing would flush later, so write now
                self.flush()
                return
            self._timer = loop.call_later(self._max_delay, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        text, self._lines, self._size = "".join(self._lines), [], 0
        stream: Any = _state["stream"] or sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken log stream must not stop serving
            pass

    def _timestamp(self) -> str:
        """ISO 8601 UTC with microseconds, as structlog's TimeStamper writes it."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1e6):06d}Z"


def _flush_at_exit() -> None:
    flush()


atexit.register(_flush_at_exit)
