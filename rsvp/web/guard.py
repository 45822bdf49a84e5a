"""Security headers on every response, a cap on request bodies and HEAD for every page,
as one ASGI middleware.

HEAD is answered as GET without the body, so every page (and every error) gives a
HEAD the same status and headers: link checkers and monitors use it, and a 405 there
would tell them a page that exists is broken."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024

SECURITY_HEADERS = {
    # Personal links sit in the URL: never pass them on to another site.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
}
# Pages behind a personal link show someone's answers: no shared or browser cache.
NO_STORE = "no-store"
# The same as raw ASGI header pairs, made once (names in lower case, as ASGI has them).
_RAW_SECURITY = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_OURS = frozenset(name for name, _ in _RAW_SECURITY)
_RAW_NO_STORE = (b"cache-control", NO_STORE.encode())


class _BodyTooLarge(Exception):
    """The streamed body went past the limit (the client sent no or a false Content-Length)."""


class GuardMiddleware:
    """Add the security headers, answer 413 to bodies over `limit` bytes, and 500 to crashes;
    route HEAD as GET and send its headers only.

    `error_page(path, status)` builds those two answers. It sits inside Starlette's
    outermost error middleware so that even a crash's page carries the headers; it is
    called inside the `except` block, so it may log the exception.
    """

    def __init__(self, app: ASGIApp, error_page: Callable[[str, int], Response],
                 limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.error_page = error_page
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _with_security_headers(message.get("headers", []))
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        if self._declared_length(scope) > self.limit:
            await self.error_page(scope["path"], 413)(scope, receive, send_with_headers)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send_with_headers)
        except _BodyTooLarge:
            if started:
                raise
            await self.error_page(scope["path"], 413)(scope, receive, send_with_headers)
        except Exception:
            if not started:
                await self.error_page(scope["path"], 500)(scope, receive, send_with_headers)
            raise

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        """Return the Content-Length the client declared, or 0 if none or unreadable."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0


def _with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers with ours set (replacing any of the same name) and
    `Cache-Control: no-store` unless the response chose its own caching."""
    kept = [(name, value) for name, value in headers if name.lower() not in _OURS]
    if not any(name.lower() == b"cache-control" for name, _ in kept):
        kept.append(_RAW_NO_STORE)
    kept.extend(_RAW_SECURITY)
    return kept
