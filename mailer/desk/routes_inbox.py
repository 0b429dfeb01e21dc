"""The desk's Inbox pages: what came back read, an answer entered by hand, a reply handled (the
handlers; app.py binds them to their addresses)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from mailer.answers import record_by_hand
from mailer.attendance import STATE_WORDS
from mailer.config import Settings
from mailer.desk.inbox import InboxView, inbox_view
from mailer.desk.routes_sending import with_typed_password
from mailer.desk.signing import sign_in_first
from mailer.desk.words import words
from mailer.errors import MailerError
from mailer.inbox import mark_handled, read_mail
from mailer.journal import Journal
from mailer.private import write_private
from mailer.status import zone_of
from mailer.words import long_local_time

if TYPE_CHECKING:
    from mailer.desk.app import Form, Pages


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


def inbox_read(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer inbox`: what came back, read, sorted and recorded; its report by kind."""
    paths = [Path(form["path"]).expanduser()] if form.get("path", "").strip() else []
    imap = form.get("imap") == "on"
    reading = with_typed_password(pages, settings, form, "imap") if imap else settings
    with tempfile.TemporaryDirectory(prefix="mailer-desk-") as folder:
        for number, (name, data) in enumerate(request.state.uploads.get("files", []), 1):
            saved = Path(folder) / f"{number:03d}{Path(name).suffix.lower()}"
            write_private(saved, data)
            paths.append(saved)
        report = read_mail(reading, paths, imap=imap)
    settings = pages.settings()  # with a password kept now
    return _inbox(pages, settings, form, report=inbox_view(settings, report))


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


def inbox_handled(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer inbox --handled`: a reply to read that needs nothing more stops counting."""
    handled = mark_handled(settings, pages.clock(), key=form.get("key", ""))
    w = words(settings.sender.language)
    note = w["handled"].format(sender=handled.replies[0].sender) if handled.replies else w["handled_before"]
    return _inbox(pages, settings, {}, note=note)
