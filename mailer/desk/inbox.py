"""What `mailer inbox` read, as the desk's Inbox page shows it: by kind (the answers per meeting,
bounces, delays, unsubscribes, automatic replies, replies to read yourself, what could not be
understood), built from the report's data in the coordinator's language, times on her clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from mailer.attendance import STATE_WORDS
from mailer.config import Settings
from mailer.desk.words import campaign_words, counted, words
from mailer.inbox import InboxReport, Listed
from mailer.journal import Journal
from mailer.rsvp import Recorded
from mailer.status import DEFAULT_ZONE, zone_of
from mailer.words import long_local_time


@dataclass(frozen=True)
class Line:
    """One message as the page lists it."""

    who: str  # the member's address, or the sender's name and address
    what: str  # the answer, the subject, or the server's reply
    when: str = ""  # in words, on the meeting's (or the network's) clock
    note: str = ""  # what was done with it
    source: str = ""  # where it was read


@dataclass(frozen=True)
class Section:
    kind: str  # answers | older | not-understood | bounces | delays | unsubscribed | auto-replies | to-read
    title: str
    lines: list[Line]


@dataclass
class InboxView:
    read: str
    again: str = ""
    sections: list[Section] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


def inbox_view(settings: Settings, report: InboxReport) -> InboxView:
    language = settings.sender.language
    w = words(language)
    view = InboxView(counted(language, "read_n", report.read))
    if report.again:
        view.again = w["read_before"].format(n=report.again)
    titles = {m.id: m.title for m in settings.meetings}
    network = ZoneInfo(DEFAULT_ZONE)
    answers = report.answers
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        meeting_ids = list(dict.fromkeys(item.answer.meeting_id for item in answers.recorded))
        zones = {meeting_id: zone_of(settings, journal, meeting_id) for meeting_id in meeting_ids}
        zones.update(
            (i.answer.meeting_id, zone_of(settings, journal, i.answer.meeting_id)) for i in answers.older
        )
    for meeting_id in meeting_ids:
        title = w["answers_for"].format(title=titles.get(meeting_id, meeting_id))
        lines = [
            _answer(item, zones[meeting_id], language)
            for item in answers.recorded
            if item.answer.meeting_id == meeting_id
        ]
        view.sections.append(Section("answers", title, lines))
    if answers.older:
        lines = [_answer(item, zones[item.answer.meeting_id], language) for item in answers.older]
        view.sections.append(Section("older", w["older"], lines))
    if answers.skipped:
        lines = [Line("", reason, source=source) for source, reason in answers.skipped]
        view.sections.append(Section("not-understood", w["not_understood"], lines))
    listed = (
        ("bounces", "returned_bounces", report.bounces),
        ("delays", "returned_delays", report.delays),
        ("unsubscribed", "unsubscribes", report.unsubscribed),
        ("auto-replies", "auto_replies", report.auto_replies),
        ("to-read", "read_yourself", report.to_read),
    )
    for kind, title, items in listed:
        if items:
            lines = [_listed(item, network, titles, language) for item in items]
            view.sections.append(Section(kind, w[title], lines))
    if report.bounces:
        view.hints.append(w["bounces_next"])
    if report.copy is not None:
        view.hints.append(w["backup"].format(path=report.copy.name))
    if not report.read - report.again:
        view.hints.append(w["nothing_read"])
    elif not answers.recorded and not answers.older:
        view.hints.append(w["no_answers"])
    return view


def _answer(item: Recorded, zone: ZoneInfo, language: str) -> Line:
    w = words(language)
    answer = item.answer
    shown = STATE_WORDS[language].get(answer.partstat.upper(), answer.partstat.lower())
    when = w["answered_at"].format(when=long_local_time(answer.answered_at, zone, language))
    note = w["answer_comment"].format(text=answer.comment) if answer.comment else ""
    return Line(item.email, shown, when, note, item.source)


def _listed(item: Listed, zone: ZoneInfo, titles: dict[str, str], language: str) -> Line:
    w = words(language)
    who = f"{item.name} <{item.sender}>" if item.name else item.sender
    when = w["written_at"].format(when=long_local_time(item.written, zone, language)) if item.written else ""
    note = ""
    if item.done:
        note = w[f"done_{item.done}"].format(
            campaign=campaign_words(item.campaign, titles, language) if item.campaign else "",
            sent_at=long_local_time(item.sent_at, zone, language),
            file=item.file,
        )
    return Line(who, item.subject, when, note, item.source)
