"""podwarden.webhooks."""
