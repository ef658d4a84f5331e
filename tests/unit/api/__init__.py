"""Tests for the pure shared types and constants (podwarden.api)."""
