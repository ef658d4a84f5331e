"""The metadata firewall: canonicalise, decide, conceal, forward (issue: foundation)."""
