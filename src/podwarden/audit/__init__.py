"""User-facing audits built on the engines: `podwarden check` over manifests."""
