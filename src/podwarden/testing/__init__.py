"""Builders and helpers for podwarden's own tests and benchmarks (importable, typed).

Test tooling, not product: it builds on the lab (netlab drives its namespaces,
kubectl starts its API server), and no product module imports it, nor does the
lab (import contracts in pyproject.toml). Helpers that only the repository's
tests need, such as where the conformance data sits, live in tests/support.
"""
