"""The desk's Preview and Send pages, a send's progress, and the sign-in to Microsoft 365 a send
or the inbox may need (the handlers; app.py binds them to their addresses)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from mailer.config import Settings
from mailer.desk.jobs import Job
from mailer.desk.problems import Problem, explain
from mailer.desk.sending import (
    CANCEL,
    Choice,
    build_preview,
    deliver,
    plan_summary,
    send_test_message,
    what_is_sent,
)
from mailer.desk.signing import SignIn, local_page
from mailer.desk.words import counted, words
from mailer.errors import BusyError, MailerError
from mailer.passwords import Section, with_password
from mailer.templates import available_templates
from mailer.transport.outbox import WRITTEN

if TYPE_CHECKING:
    from mailer.desk.app import Form, Pages


# The fields of the selection form that go along from the preview to the send page.
SELECTION_FIELDS = (
    "template",
    "meeting",
    "group",
    "only",
    "campaign",
    "resend",
    "cancel_removed",
    "reinstate",
)


# The shipped templates by their name in her words; the cancellation is offered once, as "cancel
# the meeting" (CANCEL), which sends it.
NAMED_TEMPLATES = ("invitation", "reminder", "newsletter")


def _templates(settings: Settings) -> list[tuple[str, str]]:
    w = words(settings.sender.language)
    return [
        (name, w[f"template_{name}"] if name in NAMED_TEMPLATES else name)
        for name in available_templates(settings.resolve(settings.files.templates))
        if name != "cancellation"
    ]


def _choices(settings: Settings) -> dict[str, Any]:
    """What the selection form offers: the templates and the meetings."""
    return {
        "templates": _templates(settings),
        "meetings": [(m.id, m.title) for m in settings.meetings],
        "cancel_choice": CANCEL,
    }


def preview_form(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    return pages.render(
        "preview.html", settings.sender.language, active="preview", form=form, **_choices(settings)
    )


def preview_build(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    choice = Choice.from_form(form)
    result = build_preview(settings, choice, pages.clock())
    chosen = urlencode({k: form[k] for k in SELECTION_FIELDS if form.get(k)})
    return RedirectResponse(f"/preview/show/{result.folder.name}?{chosen}&n={result.count}", status_code=303)


def preview_show(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    folder = _preview_folder(settings, request.path_params["folder"])
    chosen = urlencode({k: form[k] for k in SELECTION_FIELDS if form.get(k)})
    return pages.render(
        "preview_show.html",
        settings.sender.language,
        active="preview",
        folder=folder.name,
        made=counted(settings.sender.language, "preview_made", int(form["n"]))
        if form.get("n", "").isdigit()
        else "",
        chosen=chosen,
    )


def preview_file(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """A file the preview wrote (its page, a message as .eml), and nothing else in the outbox."""
    folder = _preview_folder(settings, request.path_params["folder"])
    name = request.path_params["name"]
    written = (folder / WRITTEN).read_text(encoding="utf-8").splitlines()
    if name not in written or name != Path(name).name or name.startswith("."):
        return Response("no such file in this preview", status_code=404)
    if name.endswith(".eml"):
        return FileResponse(folder / name, media_type="message/rfc822", filename=name)
    return FileResponse(folder / name, media_type="text/html; charset=utf-8")


def _preview_folder(settings: Settings, name: str) -> Path:
    outbox = settings.resolve(settings.files.outbox)
    folder = outbox / name
    if not re.fullmatch(r"[\w@-][\w.@-]*", name) or not (folder / WRITTEN).is_file():
        raise MailerError(f"there is no preview {name!r} in {outbox}: build it again", field="preview")
    return folder


def send_form(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    return _send_page(pages, settings, form)


def _send_page(pages: Pages, settings: Settings, form: Form, note: str = "") -> Response:
    """The selection form; with a template chosen, the summary and the one button that sends."""
    summary = None
    problem = None
    seen = ""
    if form.get("template"):
        try:
            summary = plan_summary(settings, Choice.from_form(form), pages.clock())
        except MailerError as err:
            problem = explain(err, settings.sender.language, settings)
        if summary is not None and summary.seen is not None:
            seen = pages.seen.keep(summary.seen)
    hidden = {k: form[k] for k in SELECTION_FIELDS if form.get(k)}
    return pages.render(
        "send.html",
        settings.sender.language,
        active="send",
        form=form,
        summary=summary,
        hidden=hidden,
        seen=seen,
        problem=problem,
        note=note,
        **_choices(settings),
    )


def with_typed_password(pages: Pages, settings: Settings, form: Form, section: Section = "smtp") -> Settings:
    """The password typed in the page where no other source gave one; kept (in memory, until the
    desk closes) only when she ticked it."""
    typed = form.get("password", "")
    if not typed or getattr(settings, section).password is not None:
        return settings
    secret = SecretStr(typed)
    if form.get("keep_password") == "on":
        pages.remember(section, secret)
    return with_password(settings, section, secret)


def send_start(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    choice = Choice.from_form(form)
    settings = with_typed_password(pages, settings, form)
    seen = pages.seen.get(form.get("seen", ""))
    try:
        expected = int(form.get("expected", ""))
    except ValueError:
        seen = None
    if seen is None:  # no summary seen (or the desk was started again since)
        raise MailerError(words(settings.sender.language)["seen_none"], field="seen")
    now = pages.clock()
    kind, title = what_is_sent(settings, choice)
    job = pages.jobs.start(
        choice.selection.campaign or choice.selection.template,
        lambda job: deliver(settings, choice, seen, now, job, expected),
        kind=kind,
        title=title,
        meeting_id=choice.selection.meeting_id,
        again=urlencode(choice.as_form()),
    )
    return RedirectResponse(f"/send/job/{job.id}", status_code=303)


def send_test(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    choice = Choice.from_form(form)
    settings = with_typed_password(pages, settings, form)
    to = form.get("test_to", "").strip()
    if not to:
        raise MailerError("write the address the test goes to", field="test_to")
    subject = send_test_message(settings, choice, to, pages.clock())
    note = words(settings.sender.language)["test_sent"].format(subject=subject, to=to)
    return _send_page(pages, settings, form, note)


def job_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    language = settings.sender.language
    w = words(language)
    job = pages.jobs.get(request.path_params["job"])
    if job is None:
        return pages.problem(Problem(w["no_such_run"], "", w["no_such_run_next"]))
    report = job.report
    refused = [o for o in report.failed if o.permanent] if report else []
    later = [o for o in report.failed if not o.permanent] if report else []
    problem = None
    if job.problem is not None:
        problem = explain(job.problem, language, settings)
        if job.total and not isinstance(job.problem, BusyError):  # how far it came
            done = job.sent + job.failed
            after = w["stopped_after"].format(done=done, total=job.total) if done else w["stopped_before"]
            problem = replace(problem, text=f"{problem.text} {after}".strip())
    return pages.render(
        "job.html", language, active="send", job=job, refused=refused, later=later, problem=problem
    )


def signin_begin(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer login` from the desk: a device code to type at Microsoft's address."""
    signin = pages.signins.begin(settings, local_page(form.get("back", "/")))
    return RedirectResponse(f"/signin/{signin.id}", status_code=303)


def signin_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """The address and the code while she signs in; the page she came from once she has."""
    signin = pages.signins.get(request.path_params["signin"])
    if signin is None:
        raise MailerError(words(settings.sender.language)["no_signin"])
    if signin.state == "done":
        return RedirectResponse(signin.back, status_code=303)
    return pages.render("signin.html", settings.sender.language, active="", signin=signin)


async def signin_progress(request: Request) -> Response:
    return _progress(request.app.state.pages.signins.get(request.path_params["signin"]))


async def job_progress(request: Request) -> Response:
    return _progress(request.app.state.pages.jobs.get(request.path_params["job"]))


def _progress(found: Job | SignIn | None) -> Response:
    """How far a send or a sign-in is, for the page that waits for it."""
    if found is None:
        return JSONResponse({"state": "unknown"}, status_code=404)
    return JSONResponse(found.as_json())
