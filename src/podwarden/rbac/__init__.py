"""Kubernetes RBAC, evaluated as the RBAC authorizer does, over RBAC objects as data.

Why a package of its own: PodSecurityPolicy selection (`podsecurity`) asks "may
this user `use` that policy?", the node authorization blast-radius report
(`nodeauth`) asks "what may this service account do?", and those two parts may
not import each other. Both need the same upstream semantics, so they live here,
in the lowest layer, pure (no I/O, stdlib only), tested on their own against
upstream's test tables (tests/conformance/rbac/).

    from podwarden import rbac
    authorizer = rbac.Authorizer.from_objects(docs)      # RbacError if malformed
    authorizer.allowed(user=..., groups=..., verb="get", resource="secrets")
    authorizer.authorize(rbac.Request(...))              # Decision with upstream's reason
    authorizer.rules_for(user=..., groups=..., namespace="team")

`system:masters` is not RBAC: see `subjects.PRIVILEGED_GROUP`.
"""

from __future__ import annotations

from podwarden.rbac.authorizer import Authorizer, Decision, Grant
from podwarden.rbac.objects import API_VERSION, RBAC_KINDS, Binding, RbacError, is_rbac_object
from podwarden.rbac.rules import Attributes, Request, Rule, rules_allow
from podwarden.rbac.subjects import (
    PRIVILEGED_GROUP,
    Subject,
    pod_service_account,
    service_account_identity,
    service_account_user,
    split_service_account_user,
)

__all__ = [
    "API_VERSION",
    "PRIVILEGED_GROUP",
    "RBAC_KINDS",
    "Attributes",
    "Authorizer",
    "Binding",
    "Decision",
    "Grant",
    "RbacError",
    "Request",
    "Rule",
    "Subject",
    "is_rbac_object",
    "pod_service_account",
    "rules_allow",
    "service_account_identity",
    "service_account_user",
    "split_service_account_user",
]
