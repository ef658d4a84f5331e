"""Pod identity: each pod gets its own cloud identity at the standard metadata paths.

Parts, one concept each (use module-qualified calls):

- `settings` — what an operator chooses (flags → `IdentitySettings`);
- `assign` — pure: pod + namespace annotations → the identity it may have, or why not;
- `cache` — credentials per key, refreshed ahead of expiry, single-flight, backoff;
- `sts` / `iam_credentials` — the credential sources (STS AssumeRole; IAM Credentials
  impersonation);
- `answers` — the exact bodies each metadata protocol expects;
- `resolver` — client address → pod → assignment (bounded wait, ambiguity → nothing);
- `verify` — with an API, a consistent read confirms the pod before credentials go out;
- `events` — a Kubernetes Event on the pod when it is refused;
- `provider` — the `IdentityProvider` protocol and the layer every cloud is wired into;
- `providers/` — one module per cloud (aws, gce, azure): its annotation, rules, source,
  cache key and the proxy's handlers; `providers.STARTERS` lists them;
- `service` — assembles the above for `podwarden proxy`.
"""
