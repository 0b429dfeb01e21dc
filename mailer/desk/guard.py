"""What keeps the desk the coordinator's alone: the address it is served under, a token
exchanged for a cookie, and a CSRF token on every request that changes anything.

Another program on the same computer, or a web page in her browser, can reach a port on
127.0.0.1. So every request must name the desk by its loopback name (a page whose own name
was made to point at 127.0.0.1, DNS rebinding, is refused), carry the cookie that only the
printed address hands out (403 without), and, to change anything, be a POST carrying the CSRF
token that only the desk's own pages hold. Nothing changes on GET.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The cookie's name carries the desk's port: a browser keeps cookies per host, not per port, so
# two desks at once (two folders, or a second start) would otherwise replace each other's.
COOKIE = "mailer_desk_{port}"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# An uploaded member list is the largest thing posted; a workbook of a few thousand rows is
# well under a megabyte.
MAX_BODY = 32 * 1024 * 1024
# Every page: nothing from elsewhere (a member's HTML cannot load a tracking pixel in the
# preview), no scripts but the desk's own file, no framing by other sites, no referrer to them (with
# none at all Chromium sends `Origin: null`, which the guard rightly refuses).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
    ),
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class Keys:
    """The desk's secrets for one run: `token` goes in the printed address, `session` in the
    cookie it is exchanged for, `csrf` in every form. New ones every time the desk starts."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host headers a browser sends for the desk: its loopback names with the port."""
    return frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


class Guard:
    """ASGI middleware in front of the whole app; see the module's docstring."""

    def __init__(self, app: ASGIApp, keys: Keys, port: int) -> None:
        self.app = app
        self.keys = keys
        self.hosts = hosts = loopback_hosts(port)
        self.cookie = COOKIE.format(port=port)
        self.origins = frozenset(f"http://{host}" for host in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # the desk has no websockets
            return
        send = _with_security_headers(send)
        headers = Headers(scope=scope)
        if headers.get("host", "").lower() not in self.hosts:
            await _refuse("this desk answers only at 127.0.0.1 or localhost (its own address)")(
                scope, receive, send
            )
            return
        method = scope["method"]
        if method not in ("GET", "HEAD", "POST"):
            await PlainTextResponse("not allowed", status_code=405)(scope, receive, send)
            return
        if method != "POST" and "token" in parse_qs(scope.get("query_string", b"").decode("latin-1")):
            await self._exchange(scope, receive, send)
            return
        if not secrets.compare_digest(_cookie(headers, self.cookie).encode(), self.keys.session.encode()):
            await _refuse("open the desk with the address `mailer desk` printed (it carries the key to it)")(
                scope, receive, send
            )
            return
        if method == "POST":
            checked = await self._checked_post(scope, receive, send, headers)
            if checked is None:
                return
            receive = checked
        await self.app(scope, receive, send)

    async def _exchange(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The printed address's token, once right, becomes the cookie; the address bar is left
        without it (and no page ever carries it)."""
        given = parse_qs(scope["query_string"].decode("latin-1")).get("token", [""])[0]
        if not secrets.compare_digest(given.encode(), self.keys.token.encode()):
            await _refuse("this key does not open the desk: use the address `mailer desk` printed")(
                scope, receive, send
            )
            return
        response = RedirectResponse(scope.get("path") or "/", status_code=303)
        response.set_cookie(self.cookie, self.keys.session, httponly=True, samesite="strict", path="/")
        await response(scope, receive, send)

    async def _checked_post(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers
    ) -> Receive | None:
        """The request's receive channel when the POST came from the desk's own page (its
        Origin, if sent, is the desk's; the CSRF token is in the form or a header); None once
        refused."""
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            await _refuse("a request from another site is refused")(scope, receive, send)
            return None
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await PlainTextResponse("too large", status_code=413)(scope, receive, send)
                return None
        given = headers.get(CSRF_HEADER)
        if given is None:
            async with Request(scope, _replay(bytes(body), receive)).form() as form:
                value = form.get(CSRF_FIELD)
                given = value if isinstance(value, str) else ""
        if not secrets.compare_digest(given.encode(), self.keys.csrf.encode()):
            await _refuse("the form is out of date: reload the page and try again")(scope, receive, send)
            return None
        return _replay(bytes(body), receive)


def _cookie(headers: Headers, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:  # a malformed Cookie header is no cookie
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives `body` once, then whatever the client sends next."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _refuse(reason: str) -> Response:
    return PlainTextResponse(f"403: {reason}\n", status_code=403)


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return sending
