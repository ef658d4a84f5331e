"""podwarden benchmarks: each suite measures us against the peer users would run instead."""
