"""The Dataset Viewer API of the local Hub: ``/datasets-server/<endpoint>?dataset=NS/NAME&...``
(and the same paths on a ``datasets-server.*`` host), plus the Hub's
``/api/datasets/{id}/parquet[/{config}[/{split}[/{n}.parquet]]]``.

Python interface (the web pages render the viewer with it)::

    viewer_body(ctx, req, endpoint, params) -> dict      # the endpoint's JSON body
    route_viewer(ctx, req, seg) -> Response              # the HTTP side

``endpoint`` is one of ``is-valid``, ``splits``, ``first-rows``, ``rows``, ``search``,
``filter``, ``info``, ``size``, ``statistics``, ``parquet`` (datasets-server's) or
``compatibility`` (local: the viewer-compatibility report of :mod:`.compat`). Every parameter is
a string, as in the query string; ``revision`` (branch, tag or commit; default ``main``) picks
the commit, answered in ``X-Revision``. Errors are :class:`~ocforge.hub.errors.HubError`s with
datasets-server's codes (:mod:`.errors`).

Access is the local Hub's: the request's identity (token, or whatever the server put in
``req.identity``) must see the repo. As on huggingface.co, a dataset the caller cannot see is
401 ``ExternalUnauthenticatedError`` without credentials and 404
``ExternalAuthenticatedError`` with them, whether it is private or missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..context import HubContext
from ..errors import (
    BadRequestError,
    GatedRepoError,
    HubError,
    RepoNotFoundError,
    RouteNotFoundError,
)
from ..protocol import Request, Response, json_response
from ..repo_api import open_repo
from ..repo_ids import lookup_key
from ..settings_api import require_content_access
from ..validation import check_revision
from .compat import repo_compatibility
from .endpoints import ENDPOINTS, Dataset, page_statistics, required
from .errors import (
    AuthenticatedError,
    InvalidParameterError,
    ResponseNotFoundError,
    UnauthenticatedError,
    ViewerDisabledError,
)
from .snapshot import load_snapshot

_NEED_VIEWER = set(ENDPOINTS) - {"is-valid"}
_LOCAL_ENDPOINTS = {"compatibility", "page-statistics"}


def open_dataset(ctx: HubContext, req: Request, params: Mapping[str, str]) -> Dataset:
    """The dataset of ``params["dataset"]`` at ``params["revision"]``, if the caller may read it."""
    dataset = required(params, "dataset")
    namespace, _, name = dataset.partition("/")
    try:
        key = lookup_key(ctx.store, "dataset", namespace, name)
    except BadRequestError as exc:
        raise InvalidParameterError(
            f"Parameter 'dataset' must be a dataset id NAMESPACE/NAME ({exc.message})"
        ) from None
    try:
        repo = open_repo(ctx, req, key)
        require_content_access(repo, req.identity)  # gated: its namespace only, as for files
    except (RepoNotFoundError, GatedRepoError):
        if req.identity is None:
            raise UnauthenticatedError(
                "The dataset does not exist, or is not accessible without authentication (private"
                " or gated). Please check the spelling of the dataset name or retry with"
                " authentication."
            ) from None
        raise AuthenticatedError(
            "The dataset does not exist, or is not accessible with the current credentials"
            " (private or gated). Please check the spelling of the dataset name or retry with"
            " other authentication credentials."
        ) from None
    commit = repo.resolve(check_revision(params.get("revision") or "main"))
    snapshot = load_snapshot(ctx.store.root, repo, key, commit.id)
    return Dataset(key, repo, snapshot, ctx.store.root, ctx.xet, req.base_url)


def _answer(
    ctx: HubContext, req: Request, endpoint: str, params: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    handler = ENDPOINTS.get(endpoint)
    if handler is None and endpoint not in _LOCAL_ENDPOINTS:
        known = ", ".join(sorted([*ENDPOINTS, *_LOCAL_ENDPOINTS]))
        raise RouteNotFoundError(f"No such Dataset Viewer endpoint: {endpoint!r} (known: {known}).")
    ds = open_dataset(ctx, req, params)
    commit = ds.snapshot.commit_id
    try:
        if endpoint == "compatibility":
            return repo_compatibility(ds), commit
        if endpoint in (*_NEED_VIEWER, "page-statistics") and not ds.snapshot.viewer_enabled:
            raise ViewerDisabledError("The dataset viewer has been disabled on this dataset.")
        if endpoint == "page-statistics":
            return page_statistics(ds, params), commit
        assert handler is not None
        return handler(ds, params), commit
    except HubError as exc:
        exc.headers.setdefault("X-Revision", commit)
        raise


def viewer_body(
    ctx: HubContext, req: Request, endpoint: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """The JSON body ``GET /datasets-server/<endpoint>?<params>`` answers (raises HubError)."""
    return _answer(ctx, req, endpoint, params)[0]


def _params(req: Request) -> dict[str, str]:
    return {name: values[0] for name, values in req.query.items() if values}


def is_viewer_host(req: Request) -> bool:
    """True for a request to ``datasets-server.<host>``, the address ``datasets`` derives from
    ``HF_ENDPOINT`` (wherever such a name resolves to this server)."""
    return (req.headers.get("Host") or "").lower().startswith("datasets-server.")


def route_viewer(ctx: HubContext, req: Request, seg: list[str]) -> Response:
    """``GET /datasets-server/<endpoint>``: the endpoint's body with ``X-Revision``."""
    if len(seg) != 1:
        raise RouteNotFoundError("No such Dataset Viewer endpoint.")
    if req.method not in ("GET", "HEAD"):
        raise HubError(
            "The Dataset Viewer API is read with GET.", status=405, code="MethodNotAllowed"
        )
    try:
        body, commit = _answer(ctx, req, seg[0], _params(req))
    except HubError as exc:
        exc.headers.setdefault("Cache-Control", "no-store")
        raise
    headers = {"X-Revision": commit, "Cache-Control": "no-store"}
    return json_response(body, headers=headers)


# -------------------------------------------------------------------- Hub /api/.../parquet


def _parquet_urls(req: Request, ds: Dataset, config: str, split: str, revision: str | None) -> list:
    count = len(ds.split(config, split).files)
    base = f"{req.base_url}/api/datasets/{ds.name}/parquet/{quote(config)}/{quote(split)}"
    suffix = f"?revision={quote(revision, safe='')}" if revision else ""
    return [f"{base}/{n}.parquet{suffix}" for n in range(count)]


def hub_parquet(
    ctx: HubContext, req: Request, namespace: str, name: str, rest: list[str]
) -> Response:
    """``/api/datasets/{id}/parquet[/{config}[/{split}[/{n}.parquet]]]``: URL lists by config
    and split; ``{n}.parquet`` redirects (302) to the file's ``resolve`` URL at the commit."""
    revision = req.param("revision")
    params = {"dataset": f"{namespace}/{name}", **({"revision": revision} if revision else {})}
    ds = open_dataset(ctx, req, params)
    headers = {"X-Revision": ds.snapshot.commit_id}
    if len(rest) == 0:
        ds.configs(None)  # ConfigNamesError for a card whose configs cannot be read
        body: Any = {
            config: {s: _parquet_urls(req, ds, config, s, revision) for s in spec.splits}
            for config, spec in ds.snapshot.configs.items()
        }
    elif len(rest) == 1:
        ds.configs(rest[0])
        splits = ds.snapshot.configs[rest[0]].splits
        body = {s: _parquet_urls(req, ds, rest[0], s, revision) for s in splits}
    elif len(rest) == 2:
        body = _parquet_urls(req, ds, rest[0], rest[1], revision)
    elif len(rest) == 3 and rest[2].endswith(".parquet") and rest[2][: -len(".parquet")].isdigit():
        files = ds.split(rest[0], rest[1]).files
        n = int(rest[2][: -len(".parquet")])
        if n >= len(files):
            raise ResponseNotFoundError(f"{rest[0]}/{rest[1]} has {len(files)} Parquet file(s).")
        return Response(302, {**headers, "Location": ds.file_url(files[n].path)})
    else:
        raise RouteNotFoundError("No such parquet endpoint.")
    return json_response(body, headers=headers)
