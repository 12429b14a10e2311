"""What the service refuses before a route runs: a missing token (401), an over-long body (413), and 422
answers that can always be written as JSON (pydantic's errors echo the input, and ``NaN`` or ``Infinity``
in a body would make the default 422 itself fail with a 500).

The middlewares are plain ASGI (not ``@app.middleware``): a route behind Starlette's BaseHTTPMiddleware
cannot see its client disconnect, and the service stops the work of clients that left.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from . import auth


class TokenGate:
    """ASGI middleware: every path but /health needs ``token`` (see :mod:`genlab.serve.auth`); a GET with the
    right ``?token=`` sets the cookie and is redirected to the same address without it."""

    def __init__(self, app: Any, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self.token is None:
            return await self.app(scope, receive, send)
        request = Request(scope)
        sent = auth.request_token(request.headers, request.query_params, request.cookies)
        if not auth.allowed(scope["path"], sent, self.token):
            response = JSONResponse({"detail": "this server needs a token: send 'Authorization: Bearer <token>' "
                                               "or open the page as /?token=<token>"},
                                    status_code=401, headers=auth.CHALLENGE)
            return await response(scope, receive, send)
        if request.method == "GET" and request.query_params.get("token") == self.token:
            # the page opened as /?token=T: keep the token in a cookie, not in the address bar or history
            response = RedirectResponse(auth.clean_url(scope["path"], request.query_params), status_code=303)
            response.set_cookie(auth.COOKIE, self.token, httponly=True, samesite="strict")
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


class BodyCap:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 without being read whole
    (by its Content-Length, or while it streams in)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            return await self.refuse(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left before the body was complete
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self.refuse(scope, receive, send)
            more = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # later calls: disconnect detection

        await self.app(scope, replay, send)

    async def refuse(self, scope, receive, send) -> None:
        response = JSONResponse({"detail": f"the request body is larger than this server's limit of "
                                           f"{self.max_bytes} bytes; send a smaller request", "field": None},
                                status_code=413)
        await response(scope, receive, send)


def first_field(errors: list[dict[str, Any]]) -> str | None:
    """The body field of the first error (``loc`` = ("body", "n") -> "n")."""
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if len(loc) > 1 and loc[0] == "body":
            return loc[1]
    return None


async def http_error(request, exc) -> JSONResponse:
    """FastAPI's own HTTP errors, with a body that is not JSON at all (400: e.g. not UTF-8) a 422 like any other
    bad body."""
    from fastapi.exception_handlers import http_exception_handler
    if exc.status_code == 400:
        return JSONResponse({"detail": f"the request body is not valid JSON ({exc.detail})", "field": None},
                            status_code=422)
    return await http_exception_handler(request, exc)


async def validation_error(request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the field: type, location and message of each error, without the echoed input."""
    errors = [{"type": str(e.get("type", "")), "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
               "msg": str(e.get("msg", ""))} for e in exc.errors()]
    return JSONResponse({"detail": errors, "field": first_field(errors)}, status_code=422)
