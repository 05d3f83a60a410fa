"""The FastAPI application factory.

``create_app(settings, services)`` builds a new app each call: no import-time singletons, so every test
gets its own database and the live pipeline can hand in the services it built.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gasguard import __version__
from gasguard.auth import PasswordPolicyError
from gasguard.services import Services, build_services
from gasguard.settings import ServiceSettings
from gasguard.web import metrics
from gasguard.web.health import describe_error
from gasguard.web.limits import BodySizeLimit
from gasguard.web.routes import (
    alarms,
    auth,
    cameras,
    channels,
    events,
    health,
    ingest,
    maintenance,
    models,
    notifications,
    outputs,
    readings,
    site,
    tokens,
    users,
    valves,
    ws,
    zones,
)

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
"""The dashboard (plain HTML, CSS and JavaScript); served at ``/`` and ``/static`` when it is there."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
"""On every response. The dashboard has no inline script, style or event-handler attribute (its views set
styles through ``element.style`` and handlers through ``addEventListener``), so nothing it needs is
``unsafe-inline``: markup injected through a name or a reason could not run script. Camera frames are
``blob:`` URLs, the favicon a ``data:`` one, the live feed a WebSocket."""

DOCS_CDN = "https://cdn.jsdelivr.net"
"""Where FastAPI's /docs (Swagger UI) and /redoc pages load their code from; without internet they stay blank."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}

DATABASE_UNAVAILABLE = (
    "the database cannot be used right now; alarms and valve shut-off go on without it. "
    "Try again in a moment, or ask the administrator to check the database."
)


def create_app(settings: ServiceSettings, services: Services | None = None) -> FastAPI:
    """Build the API. Without ``services`` they are built from ``settings`` (schema must be current)."""
    services = services or build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(run(), name=getattr(run, "__qualname__", "background")) for run in services.background
        ]
        try:
            yield
        finally:
            for stop in services.shutdown:
                try:
                    await stop()
                except Exception:
                    logger.exception("shutdown step %s failed", getattr(stop, "__qualname__", stop))
            with contextlib.suppress(Exception):
                await services.writer.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await services.recorder.retry_pending()

    app = FastAPI(
        title="GasGuard",
        version=__version__,
        description="Gas detection, alarms and automatic valve shut-off.",
        lifespan=lifespan,
        docs_url=None,  # served by ``add_api_docs`` with a policy that lets their CDN code run
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    http_metrics = metrics.install(services)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        http_metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        http_metrics.latency.labels(request.method, template).observe(time.perf_counter() - started)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def database_failed(request: Request, exc: Exception) -> JSONResponse:
        """503 with a plain message: never a 500, and never the SQL statement or its parameters.

        A damaged file, a server that went away, a full disk or a pool with no free connection all land
        here; the log says which (first line only at warning level, the traceback at debug).
        """
        logger.warning("%s %s: database error: %s", request.method, request.url.path, describe_error(exc))
        logger.debug("database error details", exc_info=exc)
        if isinstance(exc, IntegrityError):  # a conflict with a concurrent change, not an outage
            return JSONResponse(
                status_code=status.HTTP_409_CONFLICT,
                content={"detail": "the change conflicts with data stored meanwhile; reload and try again"},
            )
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": DATABASE_UNAVAILABLE},
            headers={"Retry-After": "10"},
        )

    app.add_exception_handler(DBAPIError, database_failed)
    app.add_exception_handler(PoolTimeoutError, database_failed)

    @app.exception_handler(PasswordPolicyError)
    async def weak_password(_request: Request, exc: PasswordPolicyError) -> JSONResponse:
        """422 with the reason and advice, for any route that sets a password (never the password itself)."""
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with one readable ``detail`` line (the contract's error shape) and the full list in ``errors``."""
        return JSONResponse(
            status_code=422,
            content={"detail": describe_validation_errors(exc), "errors": _public_errors(exc)},
        )

    for module in (
        auth,
        users,
        tokens,
        health,
        events,
        site,
        zones,
        alarms,
        valves,
        channels,
        outputs,
        readings,
        ingest,
        models,
        cameras,
    ):
        app.include_router(module.router)
    app.include_router(ws.router)
    app.include_router(notifications.router)
    app.include_router(maintenance.router)
    add_api_docs(app)
    mount_dashboard(app, STATIC_DIR)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(BodySizeLimit)  # outermost: refuses before anything reads the body
    app.openapi = lambda: _openapi_with_our_422(app)  # type: ignore[method-assign]
    return app


VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ValidationErrorPublic",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "One readable line naming each bad field."},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "Every problem, with its location."},
    },
}


def _openapi_with_our_422(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the 422 body GasGuard actually returns (not FastAPI's default)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
        app.openapi_schema = schema
    return app.openapi_schema


def describe_validation_errors(exc: RequestValidationError) -> str:
    """``body.reason: String should have at least 3 characters; query.limit: ...``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("one", "batch"))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            where, message = "body", f"not valid JSON: {error.get('ctx', {}).get('error', 'cannot parse')}"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def _public_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """The error list without the echoed input (a refused 1,000-reading batch need not come back)."""
    return [{k: v for k, v in error.items() if k != "input"} for error in jsonable_encoder(exc.errors())]


def mount_dashboard(app: FastAPI, folder: Path) -> None:
    """Serve ``folder/index.html`` at ``/`` and the folder at ``/static`` (nothing when it is absent)."""
    if not folder.is_dir():
        logger.info("no dashboard at %s; serving the API only", folder)
        return
    app.mount("/static", StaticFiles(directory=folder), name="static")
    index = folder / "index.html"

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        if not index.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="the dashboard is not installed")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_policy(page: str) -> str:
    """The policy for the API documentation pages: their CDN, and only the inline scripts of ``page``.

    Swagger UI starts from one inline ``<script>``; it is allowed by its SHA-256, not by 'unsafe-inline',
    so nothing injected into the page could run. Swagger UI and ReDoc set inline styles and ReDoc loads
    web fonts and a search worker, so styles are 'unsafe-inline' here: these pages show only the API's
    own description, never text that users typed.
    """
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'self'; script-src 'self' {DOCS_CDN} {hashes}; "
        f"style-src 'self' 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com; "
        "font-src 'self' data: https://fonts.gstatic.com; "
        f"img-src 'self' data: {DOCS_CDN} https://fastapi.tiangolo.com; "
        "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def _with_docs_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode("utf-8"))
    return page


def add_api_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc``, as FastAPI builds them, each with its own looser policy."""

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _with_docs_policy(
            get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - Swagger UI")
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _with_docs_policy(get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - ReDoc"))
