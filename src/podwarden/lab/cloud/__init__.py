"""The cloud metadata emulator: faithful AWS IMDS, GCE metadata and Azure IMDS."""
