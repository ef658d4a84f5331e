"""Does the API server serve a resource? Asked of discovery before watching it.

A watch on a collection the server does not serve fails with 404 forever; the
caller (the webhook, for `policy/v1beta1` PodSecurityPolicies that clusters
from 1.25 no longer have, or podwarden's own CRD before it is installed) wants
to know that up front and skip, or ask again later. Uses the legacy discovery
documents every server serves (/apis/<group>, /apis/<group>/<version>).
"""

from __future__ import annotations

from podwarden.kube import client


async def served_version(
    api: client.Api, *, group: str, plural: str, version: str | None = None
) -> str | None:
    """The version under which `group` serves `plural` — `version` if given, otherwise the
    group's preferred version — or None when it is not served (404 from discovery).

    Other failures (unreachable, 5xx, 403) raise ApiUnavailable / ApiStatusError: "not
    served" must not be concluded from an error.
    """
    try:
        found = await api.get_json(f"/apis/{group}")
    except client.ApiStatusError as exc:
        if exc.code == 404:
            return None
        raise
    versions = [str(v.get("version")) for v in found.get("versions") or [] if isinstance(v, dict)]
    preferred = found.get("preferredVersion")
    wanted = version or (str(preferred.get("version")) if isinstance(preferred, dict) else "")
    if not wanted or wanted not in versions:
        return None
    try:
        resources = await api.get_json(f"/apis/{group}/{wanted}")
    except client.ApiStatusError as exc:
        if exc.code == 404:
            return None
        raise
    names = {str(r.get("name")) for r in resources.get("resources") or [] if isinstance(r, dict)}
    return wanted if plural in names else None
