"""The desk's pages: each reads config.toml afresh (a change made in an editor or the terminal
shows at once) and runs the same code as the command line. Rendered on the server with
Jinja2 (autoescaped: member data is always text, never markup).

Here is what every page shares (Pages, the page decorator) and which address runs which
page; the pages themselves are in routes_*.py beside it, by area."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

import jinja2
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailer.config import Settings, load_settings
from mailer.desk.editing import Upload
from mailer.desk.jobs import Jobs
from mailer.desk.problems import Problem, explain
from mailer.desk.routes_inbox import inbox_answer, inbox_handled, inbox_page, inbox_read
from mailer.desk.routes_meetings import (
    meeting_answers,
    meeting_answers_csv,
    meeting_form,
    meeting_save,
    meetings_page,
)
from mailer.desk.routes_members import members_decide, members_page, members_put_back, members_upload
from mailer.desk.routes_overview import overview_page
from mailer.desk.routes_sending import (
    job_page,
    job_progress,
    preview_build,
    preview_file,
    preview_form,
    preview_show,
    send_form,
    send_start,
    send_test,
    signin_begin,
    signin_page,
    signin_progress,
)
from mailer.desk.signing import SignIns
from mailer.desk.words import counted, words
from mailer.errors import MailerError
from mailer.passwords import Section, with_password, with_passwords
from mailer.previewed import Previewed

T = TypeVar("T")
Clock = Callable[[], datetime]
Form = dict[str, str]
Handler = Callable[["Pages", Request, Settings, Form], Response]
Endpoint = Callable[[Request], Awaitable[Response]]
# The network is Danish: a page shown before config.toml was ever read speaks Danish.
FALLBACK_LANGUAGE = "da"


class Pages:
    """What every page needs: where config.toml is, the CSRF token for its forms, the clock, and
    the sends under way."""

    def __init__(self, config: Path, csrf: str, clock: Clock) -> None:
        self.config = config
        self.csrf = csrf
        self.clock = clock
        self.jobs = Jobs()
        self.signins = SignIns()
        self.seen: Kept[Previewed] = Kept()
        self.done: Kept[dict[str, Any]] = Kept()  # what the page after a change says
        self.language = FALLBACK_LANGUAGE  # the last one config.toml gave, for a page about a problem
        self._passwords: dict[Section, SecretStr] = {}  # typed in a page and kept, until the desk closes
        self.upload: tuple[str, Upload] | None = None  # a member list waiting for her word, by its ticket
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("mailer.desk", "pages"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def settings(self) -> Settings:
        settings = load_settings(self.config)
        self.language = settings.sender.language
        for section, password in self._passwords.items():
            if getattr(settings, section).password is None:
                settings = with_password(settings, section, password)
        return with_passwords(settings, ("smtp", "imap"))  # kept in the keyring with `mailer password`

    def remember(self, section: Section, password: SecretStr) -> None:
        self._passwords[section] = password

    def render(self, name: str, language: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        page = self.env.get_template(name).render(
            lang=language,
            w=words(language),
            counted=partial(counted, language),
            csrf=self.csrf,
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def after(self, path: str, **shown: Any) -> RedirectResponse:
        """The page after a change (Post/Redirect/Get): reloading it, or going back to it, does
        not make the change again; what it says (`shown`) comes along by a key in the address."""
        return RedirectResponse(f"{path}?done={self.done.keep(shown)}", status_code=303)

    def shown(self, form: Form) -> dict[str, Any]:
        """What the page after a change says (nothing when the key is unknown)."""
        return self.done.get(form.get("done", "")) or {}

    def problem(self, err: Exception | Problem, settings: Settings | None = None) -> HTMLResponse:
        """A page about what went wrong, in her words, with what to do next."""
        shown = err if isinstance(err, Problem) else explain(err, self.language, settings)
        return self.render("problem.html", self.language, status=409, active="", problem=shown)


class Kept(Generic[T]):
    """What a page handed on, by a key in a form or an address: the summaries shown (the send
    button sends only when who gets what is still as the summary she pressed it under showed),
    and what a change's page says after its redirect. Reading keeps it: a reload shows the same."""

    KEPT = 100  # the newest kept (an older page: look again)

    def __init__(self) -> None:
        self._kept: dict[str, T] = {}
        self._lock = threading.Lock()

    def keep(self, item: T) -> str:
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._kept[key] = item
            while len(self._kept) > self.KEPT:
                del self._kept[next(iter(self._kept))]
        return key

    def get(self, key: str) -> T | None:
        with self._lock:
            return self._kept.get(key)


def page(handler: Handler) -> Callable[[Pages], Endpoint]:
    """A page that needs the settings, with the query's fields (GET) or the form's (POST). The
    work runs in a worker thread; a problem (config.toml, the member list, the journal) is shown
    as the page, in words, with what to do next."""

    def bind(pages: Pages) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            form: Form = dict(request.query_params)
            lists: dict[str, list[str]] = {}  # a field given several times (boxes ticked), each value
            uploads: dict[str, list[tuple[str, bytes]]] = {}
            if request.method == "POST":
                async with request.form() as posted:
                    form = {k: v for k, v in posted.items() if isinstance(v, str)}
                    for key, value in posted.multi_items():
                        if isinstance(value, str):
                            lists.setdefault(key, []).append(value)
                    for key, value in posted.multi_items():
                        if isinstance(value, UploadFile) and value.filename:
                            uploads.setdefault(key, []).append((value.filename, await value.read()))
            request.state.uploads = uploads
            request.state.lists = lists
            return await run_in_threadpool(_answer, pages, handler, request, form)

        return endpoint

    return bind


def _answer(pages: Pages, handler: Handler, request: Request, form: Form) -> Response:
    settings = None
    try:
        settings = pages.settings()
        return handler(pages, request, settings, form)
    except MailerError as err:
        return pages.problem(err, settings)
    except OSError as err:  # a file that cannot be read or written: named, as the commands do
        where = f"{err.filename}: " if err.filename else ""
        return pages.problem(MailerError(f"{where}{err.strerror or err}"), settings)


def create_app(config: Path, *, csrf: str, clock: Clock) -> Starlette:
    pages = Pages(config, csrf, clock)
    routes = [
        Route("/", page(overview_page)(pages)),
        Route("/members", page(members_page)(pages)),
        Route("/members/upload", page(members_upload)(pages), methods=["POST"]),
        Route("/members/upload/decide", page(members_decide)(pages), methods=["POST"]),
        Route("/members/bounced", page(members_put_back)(pages), methods=["POST"]),
        Route("/meetings", page(meetings_page)(pages)),
        Route("/meetings/edit", page(meeting_form)(pages)),
        Route("/meetings/{meeting}/answers", page(meeting_answers)(pages)),
        Route("/meetings/{meeting}/answers.csv", page(meeting_answers_csv)(pages)),
        Route("/meetings/edit", page(meeting_save)(pages), methods=["POST"]),
        Route("/inbox", page(inbox_page)(pages)),
        Route("/inbox", page(inbox_read)(pages), methods=["POST"]),
        Route("/inbox/answer", page(inbox_answer)(pages), methods=["POST"]),
        Route("/inbox/handled", page(inbox_handled)(pages), methods=["POST"]),
        Route("/preview", page(preview_form)(pages)),
        Route("/preview", page(preview_build)(pages), methods=["POST"]),
        Route("/preview/show/{folder}", page(preview_show)(pages)),
        Route("/preview/files/{folder}/{name}", page(preview_file)(pages)),
        Route("/send", page(send_form)(pages)),
        Route("/send", page(send_start)(pages), methods=["POST"]),
        Route("/send/test", page(send_test)(pages), methods=["POST"]),
        Route("/send/job/{job}.json", job_progress),
        Route("/send/job/{job}", page(job_page)(pages)),
        Route("/signin", page(signin_begin)(pages), methods=["POST"]),
        Route("/signin/{signin}.json", signin_progress),
        Route("/signin/{signin}", page(signin_page)(pages)),
        Mount("/static", StaticFiles(packages=[("mailer.desk", "static")]), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.pages = pages
    return app
