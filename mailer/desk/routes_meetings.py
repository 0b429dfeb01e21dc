"""The desk's Meetings pages: the meetings, who is coming (also as CSV), and the form that writes
a meeting into config.toml (the handlers; app.py binds them to their addresses)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote
from zoneinfo import ZoneInfo, available_timezones

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from mailer.attendance import NOT_ON_LIST, STATE_WORDS, STATES, Attendance, attendance, csv_bytes
from mailer.check import MeetingWarning
from mailer.config import Settings
from mailer.current import CurrentMeeting, current_meeting, current_meetings
from mailer.desk.editing import MeetingForm, attachment_choices, field_at_fault, save_meeting
from mailer.desk.overview import ComingMeeting, cancellation_due, coming_meeting
from mailer.desk.problems import explain, warning_words
from mailer.desk.sending import CANCEL
from mailer.desk.words import words
from mailer.errors import MailerError
from mailer.journal import Journal
from mailer.run import load_inputs
from mailer.words import local_time, status_word

if TYPE_CHECKING:
    from mailer.desk.app import Form, Pages


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
