"""The node agent: proxy, interception rules and their reconcile loop in one process."""
