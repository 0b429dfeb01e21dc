"""The desk's overview page (its handler; app.py binds it to its address)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from mailer.config import Settings
from mailer.desk.overview import overview

if TYPE_CHECKING:
    from mailer.desk.app import Form, Pages


def overview_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    found = overview(settings, pages.clock())
    return pages.render("overview.html", settings.sender.language, active="overview", view=found)
