"""The desk's pages: each reads config.toml afresh (a change made in an editor or the terminal
shows at once) and runs the same code as the command line. Rendered on the server with
Jinja2 (autoescaped: member data is always text, never markup)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailer.config import Settings, load_settings
from mailer.desk.members import member_view
from mailer.desk.overview import overview
from mailer.desk.words import words
from mailer.errors import MailerError

Clock = Callable[[], datetime]
Endpoint = Callable[[Request], Response]
# The network is Danish: a page shown before config.toml was ever read speaks Danish.
FALLBACK_LANGUAGE = "da"


class Desk:
    """What every page needs: where config.toml is, the CSRF token for its forms, the clock."""

    def __init__(self, config: Path, csrf: str, clock: Clock) -> None:
        self.config = config
        self.csrf = csrf
        self.clock = clock
        self.language = FALLBACK_LANGUAGE  # the last one config.toml gave, for a page about a problem
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("mailer.desk", "pages"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def settings(self) -> Settings:
        settings = load_settings(self.config)
        self.language = settings.sender.language
        return settings

    def render(self, name: str, language: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        page = self.env.get_template(name).render(lang=language, w=words(language), csrf=self.csrf, **context)
        return HTMLResponse(page, status_code=status)


def page(handler: Callable[[Desk, Request, Settings], Response]) -> Callable[[Desk], Endpoint]:
    """A page that needs the settings; a problem (config.toml, the member list, the journal) is
    shown as the page, in words, with what to do next."""

    def bind(desk: Desk) -> Endpoint:
        @functools.wraps(handler)
        def endpoint(request: Request) -> Response:
            try:
                return handler(desk, request, desk.settings())
            except MailerError as err:
                return desk.render("problem.html", desk.language, status=409, active="", problem=str(err))

        return endpoint

    return bind


@page
def overview_page(desk: Desk, request: Request, settings: Settings) -> Response:
    found = overview(settings, desk.clock())
    return desk.render("overview.html", settings.sender.language, active="overview", view=found)


@page
def members_page(desk: Desk, request: Request, settings: Settings) -> Response:
    query = request.query_params.get("q", "")
    view = member_view(settings, query)
    return desk.render("members.html", settings.sender.language, active="members", view=view, query=query)


def create_app(config: Path, *, csrf: str, clock: Clock) -> Starlette:
    desk = Desk(config, csrf, clock)
    routes = [
        Route("/", overview_page(desk)),
        Route("/members", members_page(desk)),
        Mount("/static", StaticFiles(packages=[("mailer.desk", "static")]), name="static"),
    ]
    return Starlette(routes=routes)
