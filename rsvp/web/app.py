"""Put the recipient's app together for one event: framework, guard, error pages, routes."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rsvp.config import EventConfig, load_event
from rsvp.errors import ExpiredLinkError, LinkError
from rsvp.i18n import catalogue
from rsvp.settings import Settings, load_settings
from rsvp.store import Store, open_store
from rsvp.tokens import LinkSigner
from rsvp.web.access import LinkAccess, root_path
from rsvp.web.answer_routes import MAX_FORM_FIELDS, add_answer_routes
from rsvp.web.database import DEFAULT_WAIT, Database, wait_from_env
from rsvp.web.guard import GuardMiddleware
from rsvp.web.pages import Pages
from rsvp.web.ratelimit import RateLimitedError, RateLimiter, limits_from_env, refusal
from rsvp.web.stores import DatabaseBusyError
from rsvp.web.unsubscribe_routes import add_unsubscribe_routes

__all__ = ["MAX_FORM_FIELDS", "app_from_env", "create_app"]

log = logging.getLogger("invite.web")

# Status and error-page key for each HTTP error the app itself does not raise.
_HTTP_ERRORS = {404: "not_found", 405: "method", 413: "too_large"}


def create_app(settings: Settings, event: EventConfig, store: Store,
               clock: Callable[[], datetime] | None = None,
               limiter: RateLimiter | None = None, db_wait: float = DEFAULT_WAIT) -> FastAPI:
    """Build the app for one event and workspace; `clock` tells the deadline and the event's
    start, `limiter` paces, `db_wait` bounds a write's wait for the lock (seconds).

    `store` is the workspace's open store; requests use connections of their own to the
    same file, one per thread (rsvp.web.database), closed when the app shuts down.
    """
    database = Database(settings.database, db_wait)
    access = LinkAccess(event, store.event_id, LinkSigner(settings.secret_keys), clock, limiter)
    pages = Pages(event, settings.template_dir / "pages")
    stylesheet = pages.stylesheet()

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        database.close()

    # No OpenTelemetry: request URLs hold personal links, and nothing here should leave
    # the server (it also spares a provider lookup on every request).
    app = FastAPI(title="invite", docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  lifespan=lifespan)

    def is_api(path: str) -> bool:
        return path.startswith("/api/")

    def error_response(key: str, status: int, path: str, root: str = "",
                       headers: Mapping[str, str] | None = None) -> Response:
        if is_api(path):
            return JSONResponse({"detail": pages.error_text(key)}, status, headers=headers)
        return HTMLResponse(pages.render_error(key, root), status, headers=headers)

    def guard_page(path: str, status: int) -> Response:
        if status == 500:
            log.exception("unexpected error on %s", path)
            return error_response("server", 500, path)
        return error_response("too_large", status, path)

    app.add_middleware(GuardMiddleware, error_page=guard_page)

    @app.exception_handler(LinkError)
    async def link_error(request: Request, error: Exception) -> Response:
        if isinstance(error, ExpiredLinkError):
            return error_response("link_expired", 410, request.url.path, root_path(request))
        return error_response("link_invalid", 400, request.url.path, root_path(request))

    @app.exception_handler(RateLimitedError)
    async def rate_limited(request: Request, error: Exception) -> Response:
        assert isinstance(error, RateLimitedError)
        return refusal(pages, error, root_path(request), is_api(request.url.path))

    @app.exception_handler(DatabaseBusyError)
    async def busy(request: Request, error: Exception) -> Response:
        """Answer 503 with Retry-After: another process held the write lock too long."""
        assert isinstance(error, DatabaseBusyError)
        log.warning("refused a write to %s: the database stayed locked for %g s",
                    request.url.path.split("/", 2)[1], database.wait)
        headers = {"Retry-After": str(error.retry_after)}
        if is_api(request.url.path):
            text = catalogue(error.lang or event.default_language).t("errors.busy_text")
            return JSONResponse({"detail": text}, 503, headers=headers)
        return HTMLResponse(pages.render_error("busy", root_path(request), error.lang), 503,
                            headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        key = _HTTP_ERRORS.get(error.status_code, "bad_request")
        status = error.status_code if error.status_code in _HTTP_ERRORS else 400
        return error_response(key, status, request.url.path, root_path(request), error.headers)

    add_answer_routes(app, access, pages, database, settings.secret_keys)
    add_unsubscribe_routes(app, access, pages, database)

    @app.get("/static/rsvp.css")
    async def serve_stylesheet() -> Response:
        return Response(stylesheet, media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/healthz")
    async def healthz() -> Response:
        """Say at once whether the database file can be read (never waiting for a writer)."""
        if await database.reachable():
            return JSONResponse({"status": "ok", "database": "ok"})
        return JSONResponse({"status": "degraded", "database": "unreachable"}, 503)

    return app


def app_from_env() -> FastAPI:
    """Build the app for uvicorn's --factory, for INVITE_WORKSPACE (else the current folder)."""
    workspace = Path(os.environ.get("INVITE_WORKSPACE", ".")).resolve()
    settings = load_settings(workspace)
    event = load_event(settings.event_file)
    wait = wait_from_env(os.environ)
    store = open_store(settings.database)
    app = create_app(settings, event, store, limiter=RateLimiter(limits_from_env(os.environ)),
                     db_wait=wait)
    own = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: Any) -> AsyncIterator[None]:
        # What start-up made (modules, templates, the event) lives as long as the server:
        # kept out of the collector's full passes, which would walk it on every request burst.
        gc.freeze()
        async with own(running):
            yield
        store.close()

    app.router.lifespan_context = lifespan
    return app
