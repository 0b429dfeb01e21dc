"""The desk's pages: each reads config.toml afresh (a change made in an editor or the terminal
shows at once) and runs the same code as the command line. Rendered on the server with
Jinja2 (autoescaped: member data is always text, never markup)."""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, available_timezones

import jinja2
from pydantic import SecretStr, TypeAdapter
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailer.answers import record_by_hand
from mailer.attendance import NOT_ON_LIST, STATE_WORDS, STATES, Attendance, attendance, csv_bytes
from mailer.bounces import put_back
from mailer.check import MeetingWarning
from mailer.config import Settings, load_settings
from mailer.current import CurrentMeeting, current_meeting, current_meetings
from mailer.desk.editing import (
    MeetingForm,
    Replaced,
    Upload,
    attachment_choices,
    field_at_fault,
    read_upload,
    replace_member_list,
    save_meeting,
)
from mailer.desk.inbox import InboxView, inbox_view
from mailer.desk.jobs import Job, Jobs
from mailer.desk.members import member_view
from mailer.desk.overview import ComingMeeting, cancellation_due, coming_meeting, overview
from mailer.desk.problems import Problem, explain, warning_words
from mailer.desk.sending import (
    CANCEL,
    Choice,
    build_preview,
    deliver,
    plan_summary,
    send_test_message,
    what_is_sent,
)
from mailer.desk.signing import SignIn, SignIns, local_page, sign_in_first
from mailer.desk.words import counted, words
from mailer.errors import BusyError, MailerError
from mailer.inbox import mark_handled, read_mail
from mailer.journal import Journal
from mailer.passwords import Section, with_password, with_passwords
from mailer.previewed import Previewed
from mailer.private import write_private
from mailer.run import load_inputs
from mailer.status import zone_of
from mailer.templates import available_templates
from mailer.transport.outbox import WRITTEN
from mailer.words import local_time, long_local_time, status_word

T = TypeVar("T")
Clock = Callable[[], datetime]
Form = dict[str, str]
Handler = Callable[["Pages", Request, Settings, Form], Response]
Endpoint = Callable[[Request], Awaitable[Response]]
# The network is Danish: a page shown before config.toml was ever read speaks Danish.
FALLBACK_LANGUAGE = "da"
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


@page
def overview_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    found = overview(settings, pages.clock())
    return pages.render("overview.html", settings.sender.language, active="overview", view=found)


@page
def members_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    return _members(pages, settings, form.get("q", ""), **pages.shown(form))


def _members(pages: Pages, settings: Settings, query: str = "", **shown: Any) -> Response:
    view = member_view(settings, query)
    language = settings.sender.language
    return pages.render("members.html", language, active="members", view=view, query=query, **shown)


@page
def members_upload(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """A new member list in place of the old: at once when it reads without an invalid row and
    keeps most members; else the page shows what is wrong or who would go, and asks."""
    files = request.state.uploads.get("file", [])
    try:
        if not files:
            raise MailerError("choose the file to upload", field="file")
        name, data = files[0]
        current = settings.resolve(settings.files.recipients)
        upload = read_upload(current, name, data, settings.sender.language)
        if upload.asks:
            pages.upload = (secrets.token_urlsafe(16), upload)
            kept = counted(settings.sender.language, "member_n", len(upload.members.members))
            return _members(pages, settings, pending=upload, ticket=pages.upload[0], kept=kept)
        replaced = replace_member_list(pages.config, current, upload, pages.clock())
    except MailerError as err:
        return _members(pages, settings, problem=explain(err, settings.sender.language, settings))
    return _replaced(pages, replaced)


@page
def members_decide(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """Her answer to the question an upload asked: replace the list anyway, or keep it."""
    w = words(settings.sender.language)
    pending, pages.upload = pages.upload, None
    if pending is None or pending[0] != form.get("ticket"):
        return _members(pages, settings, problem=Problem(w["problem"], w["upload_gone"], ""))
    if form.get("choice") != "replace":
        return pages.after("/members", note=w["upload_cancelled"])
    current = settings.resolve(settings.files.recipients)
    try:
        replaced = replace_member_list(pages.config, current, pending[1], pages.clock())
    except MailerError as err:
        return _members(pages, settings, problem=explain(err, settings.sender.language, settings))
    return _replaced(pages, replaced)


def _replaced(pages: Pages, replaced: Replaced) -> Response:
    settings = pages.settings()
    w = words(settings.sender.language)
    note = w["uploaded"].format(
        members=counted(settings.sender.language, "member_n", len(replaced.members.members))
    )
    if replaced.members.invalid:
        note += " " + w["uploaded_invalid"].format(n=len(replaced.members.invalid))
    if replaced.kept is not None:
        note += " " + w["kept_copy"].format(name=replaced.kept.name)
    warnings = [warning_words(found, settings.sender.language) for found in replaced.warnings]
    return pages.after("/members", note=note, warnings=warnings)


@page
def members_put_back(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer bounced --clear EMAIL`: an address that works again gets messages again."""
    w = words(settings.sender.language)
    address = form.get("email", "")
    with Journal(settings.resolve(settings.files.state)) as journal:
        copy = put_back(journal, address)
    if copy is None:
        return pages.after("/members", note=w["not_bouncing"].format(email=address))
    where = copy.relative_to(settings.base_dir) if copy.is_relative_to(settings.base_dir) else copy
    return pages.after(
        "/members", note=f"{w['put_back_done'].format(email=address)} {w['backup'].format(path=where)}"
    )


@page
def meetings_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    return _meetings(pages, settings, **pages.shown(form))


def _meetings(
    pages: Pages, settings: Settings, note: str = "", warnings: list[MeetingWarning] | None = None
) -> Response:
    try:
        inputs = load_inputs(settings, skip_invalid=True)
    except MailerError:  # the member list cannot be read: the meetings are shown all the same
        inputs = None
    now = pages.clock()
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        found = [(c, coming_meeting(c, journal, settings)) for c in current_meetings(settings, journal)]
        due = [cancellation_due(c, inputs, journal, now) for c, _ in found if inputs and not c.over(now)]
    return pages.render(
        "meetings.html",
        settings.sender.language,
        active="meetings",
        meetings=found,
        note=note,
        warnings=[warning_words(warning, settings.sender.language) for warning in warnings or []],
        due=[need for need in due if need is not None],
        cancel_choice=CANCEL,
    )


@page
def meeting_answers(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """Who is coming: the invited members by their answer, with library and comment, as
    `mailer status ID --html` shows them."""
    language = settings.sender.language
    current, coming, found = _attendance(settings, request.path_params["meeting"])
    zone = ZoneInfo(current.meeting.timezone)
    ordered = sorted(found.attendees, key=lambda a: (a.library or "~", a.name.casefold(), a.email))
    groups = [
        (
            state,
            STATE_WORDS[language][state],
            [(a, local_time(a.answered_at, zone)) for a in ordered if a.state == state],
        )
        for state in STATES
    ]
    return pages.render(
        "meeting_answers.html",
        language,
        active="meetings",
        meeting=coming,
        groups=[group for group in groups if group[2]],
        not_on_list=NOT_ON_LIST[language],
    )


@page
def meeting_answers_csv(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """The same list as `mailer status ID --csv` writes it, for Excel (the caterer's count)."""
    meeting_id = request.path_params["meeting"]
    _, _, found = _attendance(settings, meeting_id)
    name = f"{words(settings.sender.language)['answers_file']}-{meeting_id}.csv"
    return Response(
        csv_bytes(found, settings.sender.language),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _attendance(settings: Settings, meeting_id: str) -> tuple[CurrentMeeting, ComingMeeting, Attendance]:
    """The meeting as members know it (one neither config.toml nor the journal knows: refused),
    its totals, and who was invited with their answers."""
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        current = current_meeting(settings, journal, meeting_id)
        return current, coming_meeting(current, journal, settings), attendance(journal, settings, meeting_id)


# The reminders the form offers (ISO 8601 durations, as config.toml writes them).
REMINDERS = ("PT15M", "PT30M", "PT1H", "PT2H", "P1D", "P2D", "P7D")


@page
def meeting_form(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    meeting_id = form.get("id", "")
    values: dict[str, str] = {"timezone": "Europe/Copenhagen", "status": "tentative"}
    if meeting_id:
        meeting = settings.meeting(meeting_id)
        values = {
            "id": meeting.id,
            "title": meeting.title,
            "start": _form_time(meeting.start),
            "end": _form_time(meeting.end) if meeting.end else "",
            "timezone": meeting.timezone,
            "location": meeting.location,
            "description": meeting.description,
            "agenda": "\n".join(meeting.agenda),
            "status": meeting.status,
            "all_day": "on" if meeting.all_day else "",
            "reminder": _duration(meeting.reminder) if meeting.reminder else "",
            "attachments": "\n".join(str(path) for path in meeting.attachments),
        }
    return _meeting_form(pages, settings, values, new=not meeting_id)


def _form_time(moment: date | datetime) -> str:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=None).isoformat(timespec="minutes")  # as config.toml writes it
    return moment.isoformat()


def _duration(span: timedelta) -> str:
    """A reminder as config.toml writes it (P1D, PT2H)."""
    return str(TypeAdapter(timedelta).dump_python(span, mode="json"))


def _meeting_form(
    pages: Pages, settings: Settings, values: Form, *, new: bool, problem: MailerError | None = None
) -> Response:
    language = settings.sender.language
    w = words(language)
    reminders = [("", w["reminder_none"]), *((r, w[f"reminder_{r}"]) for r in REMINDERS)]
    if values.get("reminder") and values["reminder"] not in REMINDERS:
        reminders.append((values["reminder"], values["reminder"]))  # as config.toml has it
    chosen = [line for line in values.get("attachments", "").splitlines() if line.strip()]
    files = attachment_choices(settings)
    at = field_at_fault(problem) if problem is not None else ""
    explained = explain(problem, language, settings) if problem is not None else None
    return pages.render(
        "meeting_edit.html",
        language,
        active="meetings",
        values=values,
        new=new,
        problem=explained if not at else None,
        errors={at: explained.text} if at and explained is not None else {},
        statuses=[(s, status_word(s, language)) for s in ("tentative", "confirmed", "cancelled")],
        reminders=reminders,
        attachments=[*files, *(c for c in chosen if c not in files)],
        chosen=chosen,
        folder=settings.base_dir,
        zones=sorted(available_timezones()),
    )


@page
def meeting_save(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    new = form.get("new") == "1"
    form = {**form, "attachments": "\n".join(request.state.lists.get("attachments", []))}
    try:
        meeting = MeetingForm.read(form)
        meeting.only_offered(attachment_choices(settings), settings)
        warnings = save_meeting(pages.config, meeting, new=new, now=pages.clock())
    except MailerError as err:
        return _meeting_form(pages, settings, form, new=new, problem=err)
    return pages.after("/meetings", note=words(settings.sender.language)["saved"], warnings=warnings)


@page
def inbox_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    return _inbox(pages, settings, form)


def _inbox(
    pages: Pages, settings: Settings, form: Form, report: InboxView | None = None, note: str = ""
) -> Response:
    language = settings.sender.language
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        to_read = [
            (
                r,
                long_local_time(
                    r.written or r.at, zone_of(settings, journal, r.meeting_id or None), language
                ),
            )
            for r in journal.replies_to_read()
        ]
    return pages.render(
        "inbox.html",
        language,
        active="inbox",
        form=form,
        report=report,
        note=note,
        imap=bool(settings.imap.host),
        to_read=to_read,
        imap_password=settings.imap.auth == "password" and settings.imap.password is None,
        imap_account=settings.imap.username,
        needs_signin=sign_in_first(settings, mailbox=True) if settings.imap.host else "",
        meetings=[(m.id, m.title) for m in settings.meetings],
        answers=[(a, STATE_WORDS[language][a.upper()]) for a in ("accepted", "declined", "tentative")],
    )


@page
def inbox_read(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer inbox`: what came back, read, sorted and recorded; its report by kind."""
    paths = [Path(form["path"]).expanduser()] if form.get("path", "").strip() else []
    imap = form.get("imap") == "on"
    reading = _with_typed_password(pages, settings, form, "imap") if imap else settings
    with tempfile.TemporaryDirectory(prefix="mailer-desk-") as folder:
        for number, (name, data) in enumerate(request.state.uploads.get("files", []), 1):
            saved = Path(folder) / f"{number:03d}{Path(name).suffix.lower()}"
            write_private(saved, data)
            paths.append(saved)
        report = read_mail(reading, paths, imap=imap)
    settings = pages.settings()  # with a password kept now
    return _inbox(pages, settings, form, report=inbox_view(settings, report))


@page
def inbox_answer(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer answer`: an answer given by phone, in person or in a plain reply."""
    language = settings.sender.language
    meeting_id, address, answer = form.get("meeting", ""), form.get("email", ""), form.get("answer", "")
    if answer not in ("accepted", "declined", "tentative"):
        raise MailerError("choose the answer: accepted, declined or tentative", field="answer")
    with Journal(settings.resolve(settings.files.state)) as journal:
        record_by_hand(settings, journal, meeting_id, address, answer, form.get("note", ""), pages.clock())
    note = words(language)["recorded"].format(
        email=address, answer=STATE_WORDS[language][answer.upper()], meeting=meeting_id
    )
    return _inbox(pages, settings, {}, note=note)


@page
def inbox_handled(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer inbox --handled`: a reply to read that needs nothing more stops counting."""
    handled = mark_handled(settings, pages.clock(), key=form.get("key", ""))
    w = words(settings.sender.language)
    note = w["handled"].format(sender=handled.replies[0].sender) if handled.replies else w["handled_before"]
    return _inbox(pages, settings, {}, note=note)


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


@page
def preview_form(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    return pages.render(
        "preview.html", settings.sender.language, active="preview", form=form, **_choices(settings)
    )


@page
def preview_build(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    choice = Choice.from_form(form)
    result = build_preview(settings, choice, pages.clock())
    chosen = urlencode({k: form[k] for k in SELECTION_FIELDS if form.get(k)})
    return RedirectResponse(f"/preview/show/{result.folder.name}?{chosen}&n={result.count}", status_code=303)


@page
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


@page
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


@page
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


def _with_typed_password(pages: Pages, settings: Settings, form: Form, section: Section = "smtp") -> Settings:
    """The password typed in the page where no other source gave one; kept (in memory, until the
    desk closes) only when she ticked it."""
    typed = form.get("password", "")
    if not typed or getattr(settings, section).password is not None:
        return settings
    secret = SecretStr(typed)
    if form.get("keep_password") == "on":
        pages.remember(section, secret)
    return with_password(settings, section, secret)


@page
def send_start(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    choice = Choice.from_form(form)
    settings = _with_typed_password(pages, settings, form)
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


@page
def send_test(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    choice = Choice.from_form(form)
    settings = _with_typed_password(pages, settings, form)
    to = form.get("test_to", "").strip()
    if not to:
        raise MailerError("write the address the test goes to", field="test_to")
    subject = send_test_message(settings, choice, to, pages.clock())
    note = words(settings.sender.language)["test_sent"].format(subject=subject, to=to)
    return _send_page(pages, settings, form, note)


@page
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


@page
def signin_begin(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer login` from the desk: a device code to type at Microsoft's address."""
    signin = pages.signins.begin(settings, local_page(form.get("back", "/")))
    return RedirectResponse(f"/signin/{signin.id}", status_code=303)


@page
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


def create_app(config: Path, *, csrf: str, clock: Clock) -> Starlette:
    pages = Pages(config, csrf, clock)
    routes = [
        Route("/", overview_page(pages)),
        Route("/members", members_page(pages)),
        Route("/members/upload", members_upload(pages), methods=["POST"]),
        Route("/members/upload/decide", members_decide(pages), methods=["POST"]),
        Route("/members/bounced", members_put_back(pages), methods=["POST"]),
        Route("/meetings", meetings_page(pages)),
        Route("/meetings/edit", meeting_form(pages)),
        Route("/meetings/{meeting}/answers", meeting_answers(pages)),
        Route("/meetings/{meeting}/answers.csv", meeting_answers_csv(pages)),
        Route("/meetings/edit", meeting_save(pages), methods=["POST"]),
        Route("/inbox", inbox_page(pages)),
        Route("/inbox", inbox_read(pages), methods=["POST"]),
        Route("/inbox/answer", inbox_answer(pages), methods=["POST"]),
        Route("/inbox/handled", inbox_handled(pages), methods=["POST"]),
        Route("/preview", preview_form(pages)),
        Route("/preview", preview_build(pages), methods=["POST"]),
        Route("/preview/show/{folder}", preview_show(pages)),
        Route("/preview/files/{folder}/{name}", preview_file(pages)),
        Route("/send", send_form(pages)),
        Route("/send", send_start(pages), methods=["POST"]),
        Route("/send/test", send_test(pages), methods=["POST"]),
        Route("/send/job/{job}.json", job_progress),
        Route("/send/job/{job}", job_page(pages)),
        Route("/signin", signin_begin(pages), methods=["POST"]),
        Route("/signin/{signin}.json", signin_progress),
        Route("/signin/{signin}", signin_page(pages)),
        Mount("/static", StaticFiles(packages=[("mailer.desk", "static")]), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.pages = pages
    return app
