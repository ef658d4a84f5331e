"""From one AdmissionRequest to one answer: which objects are judged, and by what.

The scoping follows Pod Security Admission: only CREATE and UPDATE of pods and of
the workload kinds are judged; pod subresources other than `ephemeralcontainers`
(status, binding, exec…) and every workload subresource (scale, status) pass
untouched; a pod UPDATE that changes no container's image or seccomp annotation
and adds no ephemeral container passes (PSA's "significant update" rule, so
relabelling a pod that predates a stricter namespace label keeps working). The
one exception is the tenant preset's identity guard: the metadata proxy reads a
pod's cloud-role annotation live, so an update that adds or changes one is
always judged (by the guard alone).
Workloads are judged by their pod template on the audit and warn levels only, as
PSA does, unless `workloads: refuse`. The engines are pure; the
only awaited step is asking the authorizer which PSPs the requester may use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from podwarden.api import admission, pods
from podwarden.kube import store
from podwarden.podsecurity import identity_guard, namespace, tenant, workloads
from podwarden.podsecurity.levels import Level
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
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
ERROR_AUDIT_KEY = "error"  # PSA's audit annotation for what it could not evaluate


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


def _container_changed(
    new: Any, old: Any, annotations: Mapping[str, Any], old_annotations: Mapping[str, Any]
) -> bool:
    """PSA's isSignificantContainerUpdate: the image, or the container's seccomp annotation."""
    if not isinstance(new, Mapping) or not isinstance(old, Mapping):
        return True
    if new.get("image") != old.get("image"):
        return True
    key = SECCOMP_CONTAINER_PREFIX + str(new.get("name") or "")
    return annotations.get(key) != old_annotations.get(key)


def _significant_update(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """PSA's isSignificantPodUpdate, field for field: container and init container counts,
    each one's image and per-container seccomp annotation, and ephemeral containers added
    or changed (matched by name). Everything else in a pod is immutable once created, or
    (labels, most annotations) is nothing PSA judges. A shape PSA could not decode is
    significant, so it is judged rather than waved through."""
    if not isinstance(old, Mapping):
        return True
    annotations, old_annotations = pods.annotations_of(new), pods.annotations_of(old)
    for key in ("containers", "initContainers"):
        now, before = pods.container_list(new, key), pods.container_list(old, key)
        if now is None or before is None or len(now) != len(before):
            return True
        if any(
            _container_changed(n, b, annotations, old_annotations)
            for n, b in zip(now, before, strict=True)
        ):
            return True
    now, before = (
        pods.container_list(new, "ephemeralContainers"),
        pods.container_list(old, "ephemeralContainers"),
    )
    if now is None or before is None:
        return True
    by_name = {c.get("name"): c for c in before if isinstance(c, Mapping)}
    for container in now:
        name = container.get("name") if isinstance(container, Mapping) else None
        if name not in by_name:
            return True  # an ephemeral container added
        if _container_changed(container, by_name[name], annotations, old_annotations):
            return True
    return False


@dataclass(frozen=True)
class Target:
    """The pod-shaped thing to judge and how the request reached it.

    `significant` is False for a pod update PSA would not re-evaluate; `roles_changed`
    is True when the update adds, changes or removes a cloud-role annotation (which
    the metadata proxy reads live, so the tenant guard judges it whatever PSA says);
    `template_error` says why a workload's pod template could not be read (then `pod`
    is empty)."""

    pod: Mapping[str, Any]
    workload: bool
    ephemeral: bool
    significant: bool = True
    template_error: str = ""
    roles_changed: bool = True


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
        update = request.operation == "UPDATE"
        return Target(
            obj,
            workload=False,
            ephemeral=request.sub_resource == "ephemeralcontainers",
            significant=not update or _significant_update(obj, request.old_object),
            roles_changed=not update or identity_guard.roles_changed(obj, request.old_object),
        )
    if key in WORKLOAD_RESOURCES:
        if request.sub_resource:
            return _out_of_scope()
        if obj is None:
            return _deny("object: a workload is required", code=400, reason="BadRequest")
        typed = obj if obj.get("kind") else {**obj, "kind": request.kind.kind}
        template = workloads.pod_template(typed)
        if template is None:
            problem = (
                f"{request.kind.kind or 'workload'}: the pod template is missing or not an object"
            )
            return Target({}, workload=True, ephemeral=False, template_error=problem)
        return Target(template, workload=True, ephemeral=False)
    return _out_of_scope()


def _strip(annotations: Mapping[str, str]) -> dict[str, str]:
    return {k.removeprefix(AUDIT_PREFIX): v for k, v in annotations.items()}


def _aggregate(errors: Sequence[str]) -> str:
    """Go's aggregate error text: the one message, or `[a, b]` for several."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def _pss(
    request: admission.AdmissionRequest,
    target: Target,
    settings: Settings,
    view: store.ClusterView,
    ns_name: str,
) -> Answer:
    """PSA's ValidatePod / ValidatePodController / EvaluatePod, step for step.

    Namespace and user exemptions come before the namespace lookup (an exempt namespace
    need not be in the view). A pod whose namespace cannot be looked up is refused (500)
    as PSA refuses it; a workload is admitted with an `error` audit annotation, as PSA
    admits it, unless workloads are refused, where fail closed wins. Workloads get only
    audit and warn (PSA never evaluates the enforce level for them)."""
    refuse_workload = target.workload and settings.refuse_workloads
    exempt = settings.exemptions.reason(username=request.user_info.username, namespace=ns_name)
    if exempt:
        return Answer(True, audit_annotations={"exempt": exempt})
    ns = view.namespace(ns_name)
    if ns is None:
        if target.workload and not refuse_workload:
            error = f'failed to lookup namespace "{ns_name}": namespace "{ns_name}" not found'
            return Answer(True, audit_annotations={ERROR_AUDIT_KEY: error})
        return _deny(f'failed to lookup namespace "{ns_name}"', code=500, reason="InternalError")
    policy = namespace.policy_from_labels(ns.labels, defaults=settings.defaults)
    if target.workload and not refuse_workload:
        if not policy.errors and all(
            lv.level is Level.PRIVILEGED for lv in (policy.audit, policy.warn)
        ):
            return Answer(True)
        if target.template_error:
            error = f"failed to extract pod template: {target.template_error}"
            return Answer(True, audit_annotations={ERROR_AUDIT_KEY: error})
    if target.template_error:
        return _deny(target.template_error, code=400, reason="BadRequest")
    if not target.significant:
        return Answer(True, judged=False)  # PSA: nothing it cares about changed
    decision = namespace.decide(
        target.pod,
        policy,
        enforce=not target.workload or refuse_workload,
        exemptions=settings.exemptions,
        username=request.user_info.username,
        namespace=ns_name,
    )
    audit = _strip(decision.audit_annotations)
    if policy.errors and "exempt" not in audit:
        audit = {ERROR_AUDIT_KEY: "Failed to parse policy: " + _aggregate(policy.errors), **audit}
    answer = Answer(decision.allowed, warnings=list(decision.warnings), audit_annotations=audit)
    if not decision.allowed:
        answer.code, answer.reason, answer.message = 403, "Forbidden", decision.message
    return answer


def _tenant(
    request: admission.AdmissionRequest,
    target: Target,
    settings: Settings,
    view: store.ClusterView,
    ns_name: str,
) -> Answer:
    """The tenant preset. A pod update PSA calls insignificant that changes a role
    annotation is judged by the identity guard alone: the rest of the pod was judged
    when it was created (or predates the preset), as PSA's rule intends."""
    exempt = settings.exemptions.reason(
        username=request.user_info.username,
        namespace=ns_name,
        runtime_class=pods.runtime_class(target.pod),
    )
    if exempt:
        return Answer(True, audit_annotations={"exempt": exempt})
    ns = view.namespace(ns_name)
    ns_annotations = ns.annotations if ns is not None else None
    if not target.significant:
        reasons = identity_guard.check_pod(
            target.pod, ns_annotations, base_role_arn=settings.base_role_arn
        )
        return _deny("; ".join(reasons)) if reasons else Answer(True)
    result = tenant.evaluate_tenant(
        target.pod,
        namespace_annotations=ns_annotations,
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
        service_account=pods.service_account(target.pod),
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
    if settings.mode != "pss":
        if target.template_error:
            return _deny(target.template_error, code=400, reason="BadRequest")
        if not target.significant and not (settings.mode == "tenant" and target.roles_changed):
            return _out_of_scope()
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
