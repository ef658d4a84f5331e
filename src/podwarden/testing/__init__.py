"""Builders and helpers for podwarden's own tests (importable, typed)."""
