"""The webhook fixtures of the integration tier, reused: the lab walkthrough starts the
same real webhook over TLS."""

from __future__ import annotations

from tests.integration.webhooks.conftest import cert_dir, start_webhook

__all__ = ["cert_dir", "start_webhook"]
