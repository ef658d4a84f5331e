"""Pod security admission engines: the Pod Security Standards and PodSecurityPolicy.

Everything under this package is pure: pods, namespaces and policies are plain
mappings in the Kubernetes JSON shape, and nothing here does I/O. That is what lets
the same engine answer in the webhook, in `podwarden check` and in a benchmark.

Public entry points (module-qualified, as the rest of podwarden calls them):
`evaluate.evaluate_pod`, `namespace.policy_from_labels`, `workloads.pod_template`.
"""
