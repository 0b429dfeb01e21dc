"""The page `mailer status MEETING --html` writes: who is coming at a glance, in the coordinator's
language (totals with a bar per answer, members grouped by library, and what still needs her).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from mailer.attendance import STATE_WORDS, Attendance
from mailer.config import Settings
from mailer.meetings import Meeting
from mailer.private import private_folder, write_private
from mailer.words import local_time, summary

PAGE = "status.html"
LABELS = {
    "da": {
        "title": "Hvem kommer",
        "invited": "inviterede",
        "totals": "Svar",
        "needs": "Det skal du se på",
        "nothing": "Intet: alle svar er talt med.",
        "bouncing": "Adressen virker ikke (kommer ikke med i næste udsendelse, før du skriver "
        "mailer bounced --clear ADRESSE):",
        "not_delivered": "Invitationen nåede ikke frem:",
        "to_read": "Svar i almindelig tekst, som du selv skal læse (og skrive ind med mailer answer):",
        "no_answer": "har ikke svaret endnu: mailer send reminder --meeting {id} minder dem om det.",
        "members": "Medlemmer efter bibliotek",
        "name": "Navn",
        "email": "E-mail",
        "answer": "Svar",
        "comment": "Kommentar",
        "when": "Svaret",
        "by_hand": "skrevet ind i hånden",
        "stale": "svarede før sidste ændring",
    },
    "en": {
        "title": "Who is coming",
        "invited": "invited",
        "totals": "Answers",
        "needs": "What needs you",
        "nothing": "Nothing: every answer is counted.",
        "bouncing": "The address no longer works (left out of sends until you run "
        "mailer bounced --clear EMAIL):",
        "not_delivered": "The invitation did not get through:",
        "to_read": "Plain replies to read yourself (and record with mailer answer):",
        "no_answer": "have not answered yet: mailer send reminder --meeting {id} reminds them.",
        "members": "Members by library",
        "name": "Name",
        "email": "Email",
        "answer": "Answer",
        "comment": "Comment",
        "when": "Answered",
        "by_hand": "entered by hand",
        "stale": "answered before the last change",
    },
}


def write_page(
    found: Attendance, settings: Settings, meeting: Meeting | None, path: Path, zone: ZoneInfo
) -> None:
    """The page, its times in `zone` (the meeting's)."""
    language = settings.sender.language
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mailer", "pages"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    totals = found.totals
    invited = sum(count for state, count in totals.items() if state != "NOT DELIVERED")
    page = env.get_template(PAGE).render(
        language=language,
        labels=LABELS[language],
        words=STATE_WORDS[language],
        meeting_id=found.meeting_id,
        heading=meeting.title if meeting else found.meeting_id,
        summary=summary(meeting, language) if meeting else "",
        invited=invited,
        totals={state: count for state, count in totals.items() if count or state != "CANCELLED"},
        largest=max([1, *totals.values()]),
        groups=found.by_library(language),
        bounces=[(bounce, local_time(bounce.at, zone)) for bounce in found.bounces],
        not_delivered=[a for a in found.attendees if a.state == "NOT DELIVERED"],
        to_read=[(read, local_time(read.written or read.at, zone)) for read in found.to_read],
        no_answer=totals["NO ANSWER"],
    )
    if not path.parent.exists():
        private_folder(path.parent)
    write_private(path, page.encode("utf-8"))  # it names members: its owner's only
