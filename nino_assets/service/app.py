"""The web layer: Stat-Xplore's Open Data API (`/info`, `/rate_limit`, `/schema`, `/schema/{id}`, `/table`) under
`/webapi/rest/v1/`, over the released cube. Every request needs a valid `APIKey` header and counts against the key's
rate limit (`/rate_limit` itself does not); every error is a JSON body `{"message", "errorType"}`, never a trace.
And the table builder, `/table-builder/`: a static page that asks the same API with the user's key.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from nino_assets.service.access import DEFAULT_RATE_LIMIT, DEFAULT_RATE_WINDOW_SECONDS, ApiKeys, RateLimiter, RateState
from nino_assets.service.cube import ServedCube
from nino_assets.service.errors import (
    INTERNAL_ERROR,
    BadRequest,
    BodyTooLarge,
    MethodNotAllowed,
    NotFound,
    ServiceError,
    UnknownId,
)
from nino_assets.service.schema import ROOT_FOLDER_ID, node_body
from nino_assets.service.tables import (
    DEFAULT_CELL_LIMIT,
    annotations,
    cell_values,
    grain_of,
    membership_tables,
    read_table_query,
    table_response,
)

BASE_PATH = "/webapi/rest/v1"
DEFAULT_MAX_BODY_BYTES = 1_000_000
JSON_MEDIA_TYPE = "application/json;charset=UTF-8"
"""As Stat-Xplore labels its answers."""
INFO = {"languages": [{"locale": "en", "displayName": "English"}]}
LOGGER = logging.getLogger(__name__)
TABLE_BUILDER_PATH = "/table-builder"
TABLE_BUILDER_FILES = {"index.html": "text/html; charset=utf-8", "table_builder.js": "text/javascript; charset=utf-8",
                       "table_builder.css": "text/css; charset=utf-8"}
PAGE_HEADERS = {
    # the page holds an API key: it runs its own script only, and talks to this service only
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class ServiceSettings:
    service_root: Path
    """The service area the release stage copies released cubes to (`DataLayout.service`)."""
    api_keys_file: Path
    cell_limit: int = DEFAULT_CELL_LIMIT
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window_seconds: float = DEFAULT_RATE_WINDOW_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    clock: Callable[[], float] = field(default=time.time)


def _encoded(body: object) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _json(body: object, state: RateState | None = None, status: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    """A JSON response (of a body, or of one already encoded) with the key's rate headers."""
    return Response(body if isinstance(body, str) else _encoded(body), status_code=status,
                    media_type=JSON_MEDIA_TYPE, headers=headers or (state.headers() if state else None))


async def _body(request: Request, limit: int) -> object:
    """The request's JSON, read no further than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the request body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest(f"the request body is not valid JSON ({type(error).__name__})") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply to be a table query") from None


def _table_builder_files() -> dict[str, tuple[bytes, str]]:
    """The page's files (package data), read once: each with its media type."""
    folder = files("nino_assets.service") / "table_builder"
    return {name: ((folder / name).read_bytes(), media_type) for name, media_type in TABLE_BUILDER_FILES.items()}


def create_app(settings: ServiceSettings) -> FastAPI:
    keys = ApiKeys(settings.api_keys_file)
    limiter = RateLimiter(settings.rate_limit, settings.rate_window_seconds, settings.clock)
    cube = ServedCube(settings.service_root)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # the released cube loads while the server already listens; the first requests wait for it
        threading.Thread(target=cube.current, name="load-released-cube", daemon=True).start()
        yield

    app = FastAPI(title="nino-stats query service", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)

    def admitted(request: Request) -> RateState:
        return limiter.take(keys.check(request.headers.get("APIKey")))

    def base_url(request: Request) -> str:
        return f"{str(request.base_url).rstrip('/')}{BASE_PATH}/"

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> Response:
        state = getattr(error, "state", None)
        return _json(error.body(), state, error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        known = {404: NotFound("there is no such endpoint"),
                 405: MethodNotAllowed(f"{request.method} is not allowed here")}
        answer = known.get(error.status_code, ServiceError(str(error.detail)))
        return _json(answer.body(), status=error.status_code)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> Response:
        LOGGER.exception("unexpected error answering %s %s", request.method, request.url.path)
        return _json(INTERNAL_ERROR.body(), status=INTERNAL_ERROR.status)

    @app.get(f"{BASE_PATH}/info")
    def info(request: Request) -> Response:
        return _json(INFO, admitted(request))

    @app.get(f"{BASE_PATH}/rate_limit")
    def rate_limit(request: Request) -> Response:
        state = limiter.peek(keys.check(request.headers.get("APIKey")))
        return _json(state.body(), state)

    def schema_node(request: Request, node_id: str) -> Response:
        state = admitted(request)
        schema, _ = cube.current()
        if node_id not in schema.nodes:
            raise UnknownId(f"unknown schema id: {node_id}")
        return _json(node_body(schema, node_id, base_url(request)), state)

    @app.get(f"{BASE_PATH}/schema")
    def schema_root(request: Request) -> Response:
        return schema_node(request, ROOT_FOLDER_ID)

    @app.get(BASE_PATH + "/schema/{node_id:path}")
    def schema_of(request: Request, node_id: str) -> Response:
        return schema_node(request, node_id)

    async def table(request: Request) -> Response:
        state = admitted(request)
        body = await _body(request, settings.max_body_bytes)

        def answer() -> str:  # off the event loop: counting and encoding take the time
            schema, tables = cube.current()
            query = read_table_query(body, schema, settings.cell_limit)
            grain = grain_of(query, schema)
            cells = tables.perturbed_cells(*membership_tables(query, schema, grain), grain)
            return _encoded(table_response(query, cell_values(query, cells),
                                           annotations(tables.perturbation["rounding_base"])))

        return _json(await run_in_threadpool(answer), headers=state.table_headers())

    for path in (f"{BASE_PATH}/table", f"{BASE_PATH}/table/"):
        app.add_api_route(path, table, methods=["POST"])

    page_files = _table_builder_files()

    @app.get(TABLE_BUILDER_PATH)
    def table_builder_folder() -> Response:
        # relative, as the page finds its files and the API: it works behind a proxy's path prefix too
        return RedirectResponse("table-builder/", status_code=308)

    @app.get(f"{TABLE_BUILDER_PATH}/")
    def table_builder() -> Response:
        return table_builder_file("index.html")

    @app.get(TABLE_BUILDER_PATH + "/{name}")
    def table_builder_file(name: str) -> Response:
        if name not in page_files:
            raise NotFound("there is no such file")
        content, media_type = page_files[name]
        return Response(content, media_type=media_type, headers=PAGE_HEADERS)

    return app
