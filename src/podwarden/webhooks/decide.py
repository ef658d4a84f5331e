"""From one AdmissionRequest to one answer: which objects are judged, and by what.

The scoping follows Pod Security Admission: only CREATE and UPDATE of pods and of
the workload kinds are judged; pod subresources other than `ephemeralcontainers`
(status, binding, exec…) and every workload subresource (scale, status) pass
untouched; a pod UPDATE that changes neither the spec nor the security
annotations passes (PSA's "significant update" rule, so relabelling a pod that
predates a stricter namespace label keeps working). Workloads are judged by their
pod template, as warnings unless `workloads: refuse`. The engines are pure; the
only awaited step is asking the authorizer which PSPs the requester may use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from podwarden.api import admission
from podwarden.kube import store
from podwarden.podsecurity import evaluate, namespace, tenant, workloads
from podwarden.podsecurity.psp import engine
from podwarden.webhooks import access
from podwarden.webhooks.settings import Settings

Endpoint = Literal["validate", "mutate"]
AUDIT_PREFIX = namespace.PREFIX  # the API server prefixes the webhook's name instead
PSP_AUDIT_KEY = "psp"
WORKLOAD_RESOURCES = frozenset(
    {
        ("", "replicationcontrollers"),
        ("", "podtemplates"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
    }
)
SECURITY_ANNOTATION_PREFIXES = (
    "seccomp.security.alpha.kubernetes.io/",
    "container.seccomp.security.alpha.kubernetes.io/",
    "container.apparmor.security.beta.kubernetes.io/",
)


@dataclass
class Answer:
    """What the webhook replies (before it becomes an AdmissionReview response)."""

    allowed: bool
    code: int = 200
    message: str = ""
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    audit_annotations: dict[str, str] = field(default_factory=dict)
    patch: list[dict[str, Any]] | None = None
    judged: bool = True  # False when the request was out of scope


def _deny(message: str, *, code: int = 403, reason: str = "Forbidden") -> Answer:
    return Answer(False, code=code, message=message, reason=reason)


def _out_of_scope() -> Answer:
    return Answer(True, judged=False)


def _security_annotations(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = (obj or {}).get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return {}
    return {
        k: v
        for k, v in annotations.items()
        if isinstance(k, str) and k.startswith(SECURITY_ANNOTATION_PREFIXES)
    }


def _significant_update(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    if not isinstance(old, Mapping):
        return True
    return new.get("spec") != old.get("spec") or _security_annotations(
        new
    ) != _security_annotations(old)


def _runtime_class(pod: Mapping[str, Any]) -> str:
    spec = pod.get("spec")
    value = spec.get("runtimeClassName") if isinstance(spec, Mapping) else None
    return value if isinstance(value, str) else ""


def _service_account(pod: Mapping[str, Any]) -> str:
    spec = pod.get("spec")
    if not isinstance(spec, Mapping):
        return "default"
    name = spec.get("serviceAccountName") or spec.get("serviceAccount")
    return str(name) if name else "default"


@dataclass(frozen=True)
class Target:
    """The pod-shaped thing to judge and how the request reached it."""

    pod: Mapping[str, Any]
    workload: bool
    ephemeral: bool


def scope(request: admission.AdmissionRequest) -> Target | Answer:
    """The object to judge, or the answer for a request PSA would not judge."""
    if request.operation not in ("CREATE", "UPDATE"):
        return _out_of_scope()
    key = (request.resource.group, request.resource.resource)
    obj = request.object
    if key == ("", "pods"):
        if request.sub_resource not in ("", "ephemeralcontainers"):
            return _out_of_scope()
        if obj is None:
            return _deny("object: a pod is required", code=400, reason="BadRequest")
        ephemeral = request.sub_resource == "ephemeralcontainers"
        if (
            request.operation == "UPDATE"
            and not ephemeral
            and not _significant_update(obj, request.old_object)
        ):
            return _out_of_scope()
        return Target(obj, workload=False, ephemeral=ephemeral)
    if key in WORKLOAD_RESOURCES:
        if request.sub_resource:
            return _out_of_scope()
        if obj is None:
            return _deny("object: a workload is required", code=400, reason="BadRequest")
        typed = obj if obj.get("kind") else {**obj, "kind": request.kind.kind}
        template = workloads.pod_template(typed)
        if template is None:
            return _deny(
                f"{request.kind.kind or 'workload'}: the pod template is missing or not an object",
                code=400,
                reason="BadRequest",
            )
        return Target(template, workload=True, ephemeral=False)
    return _out_of_scope()


def _strip(annotations: Mapping[str, str]) -> dict[str, str]:
    return {k.removeprefix(AUDIT_PREFIX): v for k, v in annotations.items()}


def _pss(
    request: admission.AdmissionRequest,
    target: Target,
    settings: Settings,
    view: store.ClusterView,
    ns_name: str,
) -> Answer:
    ns = view.namespace(ns_name)
    if ns is None:
        return _deny(f'failed to look up namespace "{ns_name}"', code=500, reason="InternalError")
    policy = namespace.policy_from_labels(ns.labels, defaults=settings.defaults)
    enforce = not target.workload or settings.refuse_workloads
    decision = namespace.decide(
        target.pod,
        policy,
        enforce=enforce,
        exemptions=settings.exemptions,
        username=request.user_info.username,
        namespace=ns_name,
    )
    answer = Answer(
        decision.allowed,
        warnings=list(decision.warnings),
        audit_annotations=_strip(decision.audit_annotations),
    )
    if not decision.allowed:
        answer.code, answer.reason, answer.message = 403, "Forbidden", decision.message
    elif target.workload and namespace.EXEMPT_ANNOTATION not in decision.audit_annotations:
        result = evaluate.evaluate(target.pod, policy.enforce)  # PSA warns on the enforce level
        if not result.allowed and result.warning() not in answer.warnings:
            answer.warnings.insert(0, result.warning())
    return answer


def _tenant(
    request: admission.AdmissionRequest,
    target: Target,
    settings: Settings,
    view: store.ClusterView,
    ns_name: str,
) -> Answer:
    exempt = settings.exemptions.reason(
        username=request.user_info.username,
        namespace=ns_name,
        runtime_class=_runtime_class(target.pod),
    )
    if exempt:
        return Answer(True, audit_annotations={"exempt": exempt})
    ns = view.namespace(ns_name)
    result = tenant.evaluate_tenant(
        target.pod,
        namespace_annotations=ns.annotations if ns is not None else None,
        base_role_arn=settings.base_role_arn,
        version=settings.tenant_version,
    )
    if result.allowed:
        return Answer(True)
    if target.workload and not settings.refuse_workloads:
        return Answer(True, warnings=[f"would be refused: {r}" for r in result.reasons])
    return _deny(result.message)


async def _psp(
    request: admission.AdmissionRequest,
    target: Target,
    settings: Settings,
    authorizer: access.Authorizer,
    ns_name: str,
    endpoint: Endpoint,
    policies: Sequence[engine.Policy],
) -> Answer:
    user = request.user_info
    who = access.Requester(
        user=user.username,
        groups=tuple(user.groups),
        uid=user.uid,
        extra=tuple((k, tuple(v)) for k, v in sorted(user.extra.items())),
        service_account=_service_account(target.pod),
    )
    rbac = await authorizer.for_request(who, namespace=ns_name, policies=policies)
    mutate = endpoint == "mutate" and request.operation == "CREATE" and not target.ephemeral
    result = engine.admit(
        target.pod,
        policies=policies,
        rbac=rbac,
        user=user.username,
        groups=user.groups,
        namespace=ns_name,
        allow_mutation=mutate or target.workload,
    )
    if result.allowed:
        audit = {PSP_AUDIT_KEY: result.policy} if result.policy else {}
        patch = result.patch if mutate and not target.workload else None
        return Answer(True, audit_annotations=audit, patch=patch or None)
    if target.workload and not settings.refuse_workloads:
        return Answer(True, warnings=[f"would be refused: {result.message}"])
    return _deny(result.message)


async def judge(
    request: admission.AdmissionRequest,
    *,
    endpoint: Endpoint,
    settings: Settings,
    view: store.ClusterView,
    authorizer: access.Authorizer,
    policies: Sequence[engine.Policy] | None = None,
) -> Answer:
    """The answer for one request. Exceptions propagate: the caller fails closed.

    `policies`: the PodSecurityPolicies in force (the files' and the cluster's); default
    the files' alone (`settings.policies`)."""
    target = scope(request)
    if isinstance(target, Answer):
        return target
    meta = (
        target.pod.get("metadata")
        if not target.workload
        else (request.object or {}).get("metadata")
    )
    ns_name = (
        request.namespace
        or (str(meta.get("namespace") or "") if isinstance(meta, Mapping) else "")
        or "default"
    )
    if settings.mode == "psp":
        in_force = settings.policies if policies is None else policies
        return await _psp(request, target, settings, authorizer, ns_name, endpoint, in_force)
    if settings.mode == "tenant":
        return _tenant(request, target, settings, view, ns_name)
    return _pss(request, target, settings, view, ns_name)
