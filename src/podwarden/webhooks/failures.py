"""What a refusal says when no decision could be made.

Both webhooks fail closed, and the refusal's message is all an operator sees
in `kubectl`'s output or the API server's audit log. `f"{type}: {exc}"` says
nothing for the exceptions that matter most here: a timed-out decision is a
bare `TimeoutError()` and prints as "TimeoutError: ". This names the
operation and its limit instead, and never ends in an empty detail.
"""

from __future__ import annotations


def describe(exc: BaseException, *, operation: str, timeout: float | None = None) -> str:
    """`exc` in words: "<operation> timed out after <timeout>s", or "<Type>: <message>"."""
    if isinstance(exc, TimeoutError):
        limit = f" after {timeout:g}s" if timeout is not None else ""
        return f"{operation} timed out{limit}"
    detail = str(exc)
    return (
        f"{type(exc).__name__}: {detail}" if detail else f"{operation} failed: {type(exc).__name__}"
    )
