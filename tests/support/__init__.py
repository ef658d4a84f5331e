"""Test tooling that only this repository's tests use (never installed with the product)."""
