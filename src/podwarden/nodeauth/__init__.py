"""podwarden.nodeauth."""
