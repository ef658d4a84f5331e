"""The lab: a cloud node on one machine (namespaces as pods, an emulated cloud)."""
