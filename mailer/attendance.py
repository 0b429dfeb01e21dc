"""Who is coming to a meeting: every invited member with their answer, library, comment and
whether their address bounces, the totals, and what still needs the coordinator. `mailer status`
prints it, writes it as CSV for Danish Excel, or as a page (mailer/status_page.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from mailer.answers import BY_HAND
from mailer.bounces import bouncing
from mailer.config import Settings
from mailer.errors import RecipientsError
from mailer.journal import Journal, MessageRead, Return
from mailer.private import write_private
from mailer.recipients import read_members

ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")
# In the order the totals are shown.
STATES = (*ANSWERS, "NO ANSWER", "BOUNCING", "NOT DELIVERED", "CANCELLED")
NOT_ON_LIST = {"da": "(ikke på listen)", "en": "(not on the list)"}
STATE_WORDS = {
    "da": {
        "ACCEPTED": "kommer",
        "DECLINED": "kommer ikke",
        "TENTATIVE": "måske",
        "NO ANSWER": "intet svar",
        "BOUNCING": "adressen virker ikke",
        "NOT DELIVERED": "ikke leveret",
        "CANCELLED": "aflyst",
    },
    "en": {
        "ACCEPTED": "accepted",
        "DECLINED": "declined",
        "TENTATIVE": "tentative",
        "NO ANSWER": "no answer",
        "BOUNCING": "bouncing",
        "NOT DELIVERED": "not delivered",
        "CANCELLED": "cancelled",
    },
}
CSV_HEADERS = {
    "da": ["E-mail", "Navn", "Bibliotek", "Svar", "Svaret", "Kommentar", "Indtastet i hånden", "Version"],
    "en": ["email", "name", "library", "answer", "answered_at", "comment", "entered_by_hand", "sequence"],
}
YES_NO = {"da": ("ja", ""), "en": ("yes", "")}


@dataclass(frozen=True)
class Attendee:
    """One invited member, as the coordinator wants to see them."""

    email: str
    name: str
    library: str
    state: str  # one of STATES
    sequence: int | None
    answered_at: str = ""
    comment: str = ""
    by_hand: bool = False
    stale: int | None = None  # answered an earlier version (this sequence) of the meeting
    problem: str = ""  # the server's words for a bounce or a failed delivery


@dataclass
class Attendance:
    meeting_id: str
    sequence: int | None
    attendees: list[Attendee] = field(default_factory=list)
    bounces: list[Return] = field(default_factory=list)  # of invited members, not put back
    to_read: list[MessageRead] = field(default_factory=list)  # plain replies, for her to read

    @property
    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for attendee in self.attendees:
            counts[attendee.state] += 1
        return counts

    def by_library(self, language: str) -> dict[str, list[Attendee]]:
        groups: dict[str, list[Attendee]] = {}
        for attendee in sorted(self.attendees, key=lambda a: (a.library or "~", a.name.casefold(), a.email)):
            groups.setdefault(attendee.library or NOT_ON_LIST[language], []).append(attendee)
        return groups


def attendance(journal: Journal, settings: Settings, meeting_id: str) -> Attendance:
    """Everything the journal and the member list say about who is coming to `meeting_id`."""
    invited = journal.invited(meeting_id)
    answers = journal.answers(meeting_id)
    state = journal.meeting(meeting_id)
    bounced = bouncing(journal)
    libraries = _libraries(settings)
    found = Attendance(meeting_id, state.sequence if state else None)
    for key, row in sorted(invited.items()):
        answer = answers.get(key)
        if row.method == "CANCEL":
            status = "CANCELLED"
        elif answer is not None:
            status = answer.partstat
        else:
            status = "BOUNCING" if key in bounced else "NO ANSWER"
        stale = None
        if answer is not None and row.method != "CANCEL" and row.sequence is not None:
            stale = (
                answer.sequence if answer.sequence is not None and answer.sequence < row.sequence else None
            )
        found.attendees.append(
            Attendee(
                email=row.email,
                name=row.name,
                library=libraries.get(key, ""),
                state=status,
                sequence=row.sequence,
                answered_at=answer.answered_at if answer else "",
                comment=answer.comment if answer else "",
                by_hand=answer is not None and answer.source == BY_HAND,
                stale=stale,
                problem=bounced[key].reply if key in bounced else "",
            )
        )
    failed = {r.recipient: r for r in journal.deliveries(meeting_id=meeting_id) if r.status == "failed"}
    for key, row in sorted(failed.items()):
        if key not in invited:  # the invitation never got through: the member does not know
            found.attendees.append(
                Attendee(
                    email=row.email,
                    name=row.name,
                    library=libraries.get(key, ""),
                    state="NOT DELIVERED",
                    sequence=row.sequence,
                    problem=f"{row.code} {row.reply}".strip(),
                )
            )
    members = set(invited) | set(failed)
    found.bounces = [item for key, item in sorted(bounced.items()) if key in members]
    found.to_read = journal.replies_to_read()
    return found


def _libraries(settings: Settings) -> dict[str, str]:
    """Each member's library (the list's organization column), by address."""
    try:
        members = read_members(settings.resolve(settings.files.recipients), settings.sender.language)
    except RecipientsError:
        return {}
    return {m.key: m.organization for m in members.members}


def write_csv(found: Attendance, path: Path, language: str) -> None:
    """The list as CSV (csv_bytes), readable by its owner only (it names members)."""
    write_private(path, csv_bytes(found, language))


def csv_bytes(found: Attendance, language: str) -> bytes:
    """The list as Danish Excel opens it by a double click: UTF-8 with a BOM, `;` between fields."""
    words = STATE_WORDS[language]
    yes, no = YES_NO[language]
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=";")
    writer.writerow(CSV_HEADERS[language])
    for group, attendees in found.by_library(language).items():
        for a in attendees:
            writer.writerow(
                [
                    a.email,
                    a.name,
                    group,
                    words[a.state],
                    a.answered_at,
                    a.comment,
                    yes if a.by_hand else no,
                    "" if a.sequence is None else a.sequence,
                ]
            )
    return text.getvalue().encode("utf-8-sig")
