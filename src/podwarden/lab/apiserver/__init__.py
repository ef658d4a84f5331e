"""An embedded Kubernetes API server for the lab and for tests (`podwarden lab apiserver`)."""
