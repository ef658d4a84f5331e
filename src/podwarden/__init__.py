"""podwarden: metadata firewall, pod identity, interception rules, pod security admission."""

__version__ = "0.1.0"
