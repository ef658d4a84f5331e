"""The aiohttp application: REST verbs, watch streams and discovery over `Storage`.

Written by hand because no maintained Python package embeds a Kubernetes API
server, and the lab needs one that kubectl, lightkube and the reflector accept
unchanged (envtest and kind need Go binaries or containers this lab avoids).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from podwarden import logs
from podwarden.kube import selectors
from podwarden.lab.apiserver import (
    access,
    authconfig,
    discovery,
    errors,
    openapi,
    patch,
    routes,
    tables,
)
from podwarden.lab.apiserver import guard as lab_guard
from podwarden.lab.apiserver.resources import ResourceType
from podwarden.lab.apiserver.sar_answers import AnswerTable
from podwarden.lab.apiserver.storage import Filter, Storage

_log = logs.get("lab.apiserver")
JSON = "application/json"
STORAGE_KEY: web.AppKey[Storage] = web.AppKey("storage", Storage)


@dataclass
class Guard:
    """The administrator's token (None: no token needed) and the followed auth config."""

    admin: TokenAuth | None
    config: authconfig.Following


GUARD_KEY: web.AppKey[Guard] = web.AppKey("guard", Guard)
_RESOURCE_PREFIXES = ("/api/v1/", "/apis/")


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Authenticate; authorize callers other than the administrator (guard.py)."""
    guard = request.app[GUARD_KEY]
    cfg = guard.config.get()
    admin_token = guard.admin.token if guard.admin is not None else None
    who = lab_guard.identify(request, cfg, admin_token)
    request["who"] = who
    if who is not None and request.path.startswith(_RESOURCE_PREFIXES):
        try:
            target = routes.parse(request.path, registry=request.app[STORAGE_KEY].registry)
        except errors.StatusError:
            target = None  # discovery documents and unknown paths: the handler answers
        if target is not None:
            attrs = lab_guard.attributes(request, target)
            request["attrs"] = attrs
            decision, reason = await lab_guard.authorize(cfg, who, attrs)
            if decision != "allow":
                raise lab_guard.forbidden(who, attrs, reason)
    response: web.StreamResponse = await handler(request)
    return response


async def _admit(
    request: web.Request, operation: str, obj: Any, old: Any, *, dry_run: bool
) -> None:
    who = request.get("who")
    if who is None or "attrs" not in request:
        return
    cfg = request.app[GUARD_KEY].config.get()
    if cfg.admission:
        await lab_guard.admit(cfg, who, request["attrs"], operation, obj, old, dry_run=dry_run)


BOOKMARK_KEY: web.AppKey[float] = web.AppKey("bookmark_interval", float)


def _json(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type=JSON
    )


@web.middleware
async def _status_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure leaves as a Status object; unexpected ones as 500 InternalError."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except errors.StatusError as exc:
        return _json(exc.status(), status=exc.code)
    except web.HTTPException:
        raise
    except Exception as exc:
        _log.exception("handler failed", path=request.path)
        failure = errors.StatusError(500, "InternalError", f"an error on the server: {exc!r}")
        return _json(failure.status(), status=500)


async def _body(request: web.Request) -> Any:
    """JSON (or YAML) request bodies; protobuf is refused with 415, naming what is accepted."""
    raw = await request.read()
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip()
    if "protobuf" in media or "cbor" in media:
        raise errors.StatusError(
            415,
            "UnsupportedMediaType",
            f"the lab API server does not decode {media} request bodies - accepted media types "
            "include: application/json, application/yaml (kubectl's generator commands such as "
            "`create namespace` send protobuf: use `kubectl create -f` or `apply -f` instead)",
        )
    if not raw:
        return {}
    try:
        if "yaml" in media and "patch" not in media:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the request body could not be decoded: {exc}") from None


def _dry_run(request: web.Request) -> bool:
    value = request.query.get("dryRun", "")
    if value not in ("", "All"):
        raise errors.bad_request(f'unsupported dry run value: "{value}" (accepted: All)')
    return value == "All"


def _selection(request: web.Request, target: routes.Target) -> Filter:
    try:
        return Filter(
            target.rtype,
            target.namespace,
            selectors.parse_labels(request.query.get("labelSelector")),
            selectors.parse_fields(
                request.query.get("fieldSelector"), supported=target.rtype.fields
            ),
        )
    except selectors.SelectorError as exc:
        raise errors.bad_request(str(exc)) from None


def _as_table(
    request: web.Request,
    rtype: ResourceType,
    objects: list[dict[str, Any]],
    version: int,
    *,
    headers: bool = True,
) -> dict[str, Any] | None:
    table_version = tables.wants_table(request.headers.get("Accept", ""))
    if table_version is None:
        return None
    return tables.table(
        rtype.kind,
        objects,
        printer=rtype.printer_columns,
        version=table_version,
        resource_version=str(version),
        include=request.query.get("includeObject", "Metadata"),
        headers=headers,
    )


def _list(request: web.Request, storage: Storage, target: routes.Target) -> web.Response:
    items, version = storage.select(_selection(request, target))
    start = _count(request, "continue")
    limit = _count(request, "limit")
    metadata: dict[str, Any] = {"resourceVersion": str(version)}
    page = items[start:]
    if limit and len(page) > limit:
        page = page[:limit]
        metadata["continue"] = str(start + limit)
        metadata["remainingItemCount"] = len(items) - start - limit
    table = _as_table(request, target.rtype, page, version)
    if table is not None:
        table["metadata"].update({k: v for k, v in metadata.items() if k != "resourceVersion"})
        return _json(table)
    for item in page:
        item.pop("kind", None)
        item.pop("apiVersion", None)
    return _json(
        {
            "kind": f"{target.rtype.kind}List",
            "apiVersion": target.rtype.api_version,
            "metadata": metadata,
            "items": page,
        }
    )


def _count(request: web.Request, name: str) -> int:
    """A non-negative integer query parameter (0 when absent); 400 BadRequest otherwise."""
    text = request.query.get(name, "") or "0"
    if not text.isdigit():
        raise errors.bad_request(f"{name}: {text!r} is not a non-negative integer")
    return int(text)


def _since(request: web.Request) -> int | None:
    text = request.query.get("resourceVersion", "")
    if text in ("", "0"):
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f"invalid resource version: {text!r}") from None


async def _watch(
    request: web.Request, storage: Storage, target: routes.Target
) -> web.StreamResponse:
    selection = _selection(request, target)
    since = _since(request)
    bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
    timeout = _count(request, "timeoutSeconds") or None
    interval = request.app[BOOKMARK_KEY]
    table_version = tables.wants_table(request.headers.get("Accept", ""))
    response = web.StreamResponse(headers={"Content-Type": JSON})
    response.enable_chunked_encoding()
    await response.prepare(request)

    async def send(kind: str, obj: dict[str, Any]) -> None:
        if table_version is not None and kind != "ERROR" and kind != "BOOKMARK":
            obj = tables.table(
                target.rtype.kind,
                [obj],
                printer=target.rtype.printer_columns,
                version=table_version,
                resource_version=obj["metadata"]["resourceVersion"],
                include=request.query.get("includeObject", "Metadata"),
            )
        line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"
        await response.write(line.encode())

    try:
        watcher = storage.watch(selection, since)
    except errors.StatusError as exc:  # too old: a 200 stream with one ERROR event, as upstream
        await send("ERROR", exc.status())
        return response
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout else None
    try:
        while deadline is None or loop.time() < deadline:
            wait = interval if bookmarks else 3600.0
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
            try:
                item = await asyncio.wait_for(watcher.queue.get(), max(wait, 0))
            except TimeoutError:
                if bookmarks:
                    await send(
                        "BOOKMARK",
                        {
                            "kind": target.rtype.kind,
                            "apiVersion": target.rtype.api_version,
                            "metadata": {"resourceVersion": str(storage.version)},
                        },
                    )
                continue
            if item is None:
                break
            kind, obj, written = item
            late = written + storage.watch_delay - time.monotonic()
            if storage.watch_delay and late > 0:
                await asyncio.sleep(late)  # lab knob: events arrive `watch_delay` late
            await send(kind, obj)
    except ConnectionResetError:
        pass  # the client went away
    finally:
        storage.stop(watcher)
    return response


async def resource(request: web.Request) -> web.StreamResponse:
    storage = request.app[STORAGE_KEY]
    target = routes.parse(request.path, registry=storage.registry)
    rtype, ns, name, sub = target.rtype, target.namespace, target.name, target.subresource
    method = request.method
    if name is None:
        if method == "GET" and request.query.get("watch") in ("1", "true"):
            return await _watch(request, storage, target)
        if method == "GET":
            return _list(request, storage, target)
        if method == "POST":
            body = await _body(request)
            dry_run = _dry_run(request)
            await _admit(request, "CREATE", body, None, dry_run=dry_run)
            created = storage.create(rtype, ns, body, dry_run=dry_run)
            return _json(created, status=201)
        if method == "DELETE":
            items, _version = storage.select(_selection(request, target))
            for item in items:
                meta = item["metadata"]
                storage.delete(rtype, meta.get("namespace"), meta["name"])
            return _json(
                {
                    "kind": f"{rtype.kind}List",
                    "apiVersion": rtype.api_version,
                    "metadata": {"resourceVersion": str(storage.version)},
                    "items": items,
                }
            )
        raise errors.method_not_allowed(method)
    if method == "GET":
        obj = storage.get(rtype, ns, name)
        table = _as_table(request, rtype, [obj], storage.version)
        return _json(table if table is not None else obj)
    if method == "PUT":
        body = await _body(request)
        dry_run = _dry_run(request)
        await _admit(request, "UPDATE", body, storage.get(rtype, ns, name), dry_run=dry_run)
        return _json(storage.update(rtype, ns, name, body, subresource=sub, dry_run=dry_run))
    if method == "PATCH":
        patch.check_media_type(request.headers.get("Content-Type", ""))
        body = await _body(request)
        current = storage.get(rtype, ns, name)
        patched = patch.apply(request.headers.get("Content-Type", ""), current, body)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        # a resourceVersion in the patch is a precondition (409 if stale), as upstream
        dry_run = _dry_run(request)
        await _admit(request, "UPDATE", patched, current, dry_run=dry_run)
        return _json(storage.update(rtype, ns, name, patched, subresource=sub, dry_run=dry_run))
    if method == "DELETE":
        options = await _body(request)
        options = options if isinstance(options, dict) else {}
        preconditions = options.get("preconditions")
        grace = options.get("gracePeriodSeconds")
        if grace is None and "gracePeriodSeconds" in request.query:
            grace = _count(request, "gracePeriodSeconds")
        dry_run = _dry_run(request)
        await _admit(request, "DELETE", None, storage.get(rtype, ns, name), dry_run=dry_run)
        return _json(storage.delete(rtype, ns, name, preconditions=preconditions, dry_run=dry_run))
    raise errors.method_not_allowed(method)


async def version(_request: web.Request) -> web.Response:
    return _json(discovery.LAB_VERSION)


async def core(request: web.Request) -> web.Response:
    return _json(discovery.core_versions(request.host))


async def core_v1(_request: web.Request) -> web.Response:
    return _json(discovery.resource_list("", "v1"))


async def apis(request: web.Request) -> web.Response:
    return _json(discovery.group_list(registry=request.app[STORAGE_KEY].registry))


async def api_group(request: web.Request) -> web.Response:
    found = discovery.group(request.match_info["group"], registry=request.app[STORAGE_KEY].registry)
    if found is None:
        raise errors.path_not_found()
    return _json(found)


async def api_group_version(request: web.Request) -> web.Response:
    found = discovery.resource_list(
        request.match_info["group"],
        request.match_info["version"],
        registry=request.app[STORAGE_KEY].registry,
    )
    if found is None:
        raise errors.path_not_found()
    return _json(found)


async def openapi_index(request: web.Request) -> web.Response:
    return _json(openapi.index(registry=request.app[STORAGE_KEY].registry))


async def openapi_document(request: web.Request) -> web.Response:
    parts = [part for part in request.match_info["tail"].split("/") if part]
    registry = request.app[STORAGE_KEY].registry
    found = None
    if parts == ["api", "v1"]:
        found = openapi.group_version_document("", "v1", registry=registry)
    elif len(parts) == 3 and parts[0] == "apis":
        found = openapi.group_version_document(parts[1], parts[2], registry=registry)
    if found is None:
        raise errors.path_not_found()
    return _json(found)


async def not_found(_request: web.Request) -> web.Response:
    raise errors.path_not_found()


async def healthy(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def compact(request: web.Request) -> web.Response:
    """Lab-only: drop the watch history so older resourceVersions get 410 Expired.

    With `?dropWatches=true` every open watch also ends, so clients reconnect
    (from their last resourceVersion) at once, as after an API server restart.
    """
    storage = request.app[STORAGE_KEY]
    floor = storage.compact()
    dropped = storage.drop_watches() if request.query.get("dropWatches") == "true" else 0
    return _json({"compactedTo": str(floor), "droppedWatches": dropped})


class TokenAuth:
    """Static bearer-token authentication of the administrator (checked in `_guard`).

    `token` may be changed while serving, to test clients that re-read a
    rotated service-account token.
    """

    def __init__(self, token: str) -> None:
        self.token = token


def build(
    storage: Storage,
    *,
    bookmark_interval: float = 5.0,
    auth: TokenAuth | None = None,
    sar_answers: AnswerTable | None = None,
    auth_config: Path | None = None,
) -> web.Application:
    """The application; with `auth`, every request must carry its bearer token (or one of
    `auth_config`'s users' tokens, which are then authorized and admitted: guard.py).
    SubjectAccessReviews are answered by `auth_config`'s authorizer chain when it has
    one, otherwise from `sar_answers` only (none: all denied)."""
    middlewares: list[Any] = [_status_errors, _guard]
    app = web.Application(middlewares=middlewares, client_max_size=16 * 1024 * 1024)
    app[STORAGE_KEY] = storage
    app[GUARD_KEY] = Guard(auth, authconfig.Following(auth_config))
    app[BOOKMARK_KEY] = bookmark_interval
    app.router.add_get("/version", version)
    app.router.add_get("/api", core)
    app.router.add_get("/api/v1", core_v1)
    app.router.add_get("/apis", apis)
    app.router.add_get("/apis/{group}", api_group)
    app.router.add_get("/apis/{group}/{version}", api_group_version)
    for probe in ("/healthz", "/readyz", "/livez"):
        app.router.add_get(probe, healthy)
    app.router.add_post("/lab/compact", compact)
    app.router.add_get("/openapi/v3", openapi_index)
    app.router.add_get("/openapi/v3/{tail:.+}", openapi_document)
    app.router.add_route("*", "/openapi/{tail:.*}", not_found)  # no v2: kubectl uses v3
    app.router.add_post(
        access.PATH,
        access.handler(sar_answers or AnswerTable(), lambda a: a[GUARD_KEY].config.get()),
    )  # before the catch-all
    app.router.add_route("*", "/api/v1/{tail:.+}", resource)
    app.router.add_route("*", "/apis/{group}/{version}/{tail:.+}", resource)
    return app
