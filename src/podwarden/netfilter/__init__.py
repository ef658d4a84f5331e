"""Interception rules: pod metadata traffic to the proxy, everything else refused."""
