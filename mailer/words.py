"""The words and dates mailer writes in a member's language: long dates, clock times, a
meeting's time span, status words and labels.

Every text a member or the coordinator reads about *when* a meeting is comes from here,
so the message body, the update notes, the calendar's description, the preview page and
`mailer status` always say the same thing. Dates are written by Babel in the language's
conventions ("tirsdag den 21. september 2027", "Tuesday, 21 September 2027").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from mailer.meetings import Meeting

BABEL_LOCALE = {"da": "da_DK", "en": "en_GB"}
# Between a date and its clock time: "tirsdag den 21. september 2027 kl. 13.00".
AT = {"da": "kl.", "en": "at"}
# Between the two ends of a span over several days, and the date-and-time form used there.
UNTIL = {"da": "til", "en": "to"}
_SPAN_AT = {"da": " kl. ", "en": ", "}
# A date without its year, where the language writes the first of two dates that way
# ("tirsdag den 21. september kl. 13.00 til onsdag den 22. september 2027 kl. 16.00").
_WITHOUT_YEAR = {"da": "EEEE 'den' d. MMMM"}
# A meeting's status as members read it (config.toml's values are English keywords).
STATUS_WORDS = {
    "da": {"tentative": "foreløbig", "confirmed": "bekræftet", "cancelled": "aflyst"},
    "en": {"tentative": "tentative", "confirmed": "confirmed", "cancelled": "cancelled"},
}
AGENDA_LABEL = {"da": "Program", "en": "Programme"}
NO_PLACE = {"da": "intet sted endnu", "en": "no place yet"}


def _locale(language: str) -> str:
    return BABEL_LOCALE.get(language, language)


def long_date(day: date, language: str) -> str:
    """'tirsdag den 21. september 2027' / 'Tuesday, 21 September 2027'."""
    from babel.dates import format_date  # where a date is written, not on every command's start

    return format_date(day, "full", locale=_locale(language))


def clock(moment: datetime, language: str) -> str:
    """'13.00' / '13:00'."""
    from babel.dates import format_time

    return format_time(moment, "short", locale=_locale(language))


def long_datetime(moment: datetime, language: str) -> str:
    """'tirsdag den 21. september 2027 kl. 13.00' / 'Tuesday, 21 September 2027 at 13:00'."""
    return f"{long_date(moment, language)} {AT.get(language, AT['en'])} {clock(moment, language)}"


def local_time(at: str, zone: ZoneInfo) -> str:
    """A time the journal or a message gave (ISO, any offset) as the coordinator's clock shows it:
    '2026-11-25 10:30'; '' for none, and the text as it is when it is not a time."""
    moment = _local(at, zone)
    return moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, datetime) else moment


def long_local_time(at: str, zone: ZoneInfo, language: str) -> str:
    """The same in words: 'onsdag den 25. november 2026 kl. 10.30'."""
    moment = _local(at, zone)
    return long_datetime(moment, language) if isinstance(moment, datetime) else moment


def _local(at: str, zone: ZoneInfo) -> datetime | str:
    """`at` on the clock of `zone`; '' or the text itself when it is no time."""
    if not at:
        return ""
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return at
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)


def time_span(start: date, end: date, language: str) -> str:
    """A meeting's time span (`meeting.when`).

    Times (datetimes, local to the meeting): 'tirsdag den 21. september 2027 kl. 13.00–16.00'
    on one day; over several days both dates are named, 'tirsdag den 21. september kl. 13.00
    til onsdag den 22. september 2027 kl. 16.00' / 'Tuesday, 21 September 2027, 13:00 to
    Wednesday, 22 September 2027, 16:00'.
    Dates (an all-day meeting; `end` exclusive, as in iCalendar): the day, or the first and
    last day, without times.
    """
    until = UNTIL.get(language, UNTIL["en"])
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        last = _as_date(end) - timedelta(days=1)
        first = _as_date(start)
        if last <= first:
            return long_date(first, language)
        return f"{_first_date(first, last, language)} {until} {long_date(last, language)}"
    if start.date() == end.date():
        return f"{long_datetime(start, language)}–{clock(end, language)}"
    at = _SPAN_AT.get(language, _SPAN_AT["en"])
    opening = f"{_first_date(start.date(), end.date(), language)}{at}{clock(start, language)}"
    return f"{opening} {until} {long_date(end, language)}{at}{clock(end, language)}"


def when(meeting: Meeting, language: str) -> str:
    """The meeting's time span in `language`, as every text writes it."""
    return time_span(meeting.dtstart, meeting.dtend, language)


def summary(meeting: Meeting, language: str) -> str:
    """One line for the coordinator (`check`, `status`): when, where, and its status, all in
    `language` ('..., Roskilde Bibliotek (bekræftet)')."""
    place = meeting.location or NO_PLACE.get(language, NO_PLACE["en"])
    return f"{when(meeting, language)}, {place} ({status_word(meeting.status, language)})"


def _as_date(day: date) -> date:
    return day.date() if isinstance(day, datetime) else day


def _first_date(first: date, last: date, language: str) -> str:
    """The first of two dates; without its year where the language says it once, at the end."""
    pattern = _WITHOUT_YEAR.get(language)
    if pattern is None or first.year != last.year:
        return long_date(first, language)
    from babel.dates import format_date

    return format_date(first, pattern, locale=_locale(language))


def status_word(status: str, language: str) -> str:
    """'bekræftet' / 'confirmed' for config.toml's `confirmed` (and so on)."""
    return STATUS_WORDS.get(language, STATUS_WORDS["en"]).get(status, status)


def agenda_label(language: str) -> str:
    """'Program' / 'Programme', the heading of a meeting's agenda in calendar descriptions."""
    return AGENDA_LABEL.get(language, AGENDA_LABEL["en"])


def count(number: int, noun: str, plural: str | None = None) -> str:
    """'1 message', '25 messages'; a noun that adds more than an s gives its plural
    ('1 besked', '25 beskeder')."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
