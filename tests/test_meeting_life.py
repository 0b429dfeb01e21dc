"""One truth about a meeting through its whole life: invited, moved, cancelled with `mailer
cancel`. After each step every command that shows or publishes it says the same thing:
`check`, `status`, `feed`, `ics` and a newsletter's preview (its "Kommende arrangementer" and
its meetings.ics). Calendars are read by three parsers that share no code (icalendar,
vobject, ical) and must agree; messages are read from the bytes the server received. The
update and the cancellation also fit a phone (the layout's check in tests/test_layout.py).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import FIXED, MEETING, Project, SmtpServer, chromium
from ical.calendar_stream import IcsCalendarStream
from test_layout import fits_a_phone_and_a_desktop, html_of

MEETING_ID = MEETING["id"]
UID = f"{MEETING_ID}@roskilde.example"
LATER = {
    "id": "2027-11-16-samskabelse",
    "title": "Netværksmøde: Samskabelse",
    "start": "2027-11-16T10:00:00",
    "end": "2027-11-16T14:30:00",
    "location": "Køge Bibliotek, Kirkestræde 18, 4600 Køge",
    "status": "tentative",
}
LATER_UID = f"{LATER['id']}@roskilde.example"
SOREN, MARIA = "soren.aero@vordingborg.example", "maria.lohse@roskilde.example"  # da, en
SEPTEMBER_21 = "tirsdag den 21. september 2027 kl. 13.00–16.00"
SEPTEMBER_28 = "tirsdag den 28. september 2027 kl. 14.00–17.00"
PLACE = "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde"


@dataclass(frozen=True)
class Seen:
    """One VEVENT as a member's calendar will take it."""

    status: str
    sequence: int
    start: datetime  # UTC
    summary: str


def at(minutes: int) -> datetime:
    return FIXED + timedelta(minutes=minutes)


def events(data: bytes, method: str) -> dict[str, Seen]:
    """Each event of a calendar by UID, read by three parsers that must agree."""
    text = data.decode("utf-8")
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["METHOD"]) == method
    by_icalendar = {
        str(e["UID"]): Seen(
            str(e["STATUS"]), int(e["SEQUENCE"]), e["DTSTART"].dt.astimezone(UTC), str(e["SUMMARY"])
        )
        for e in cal.walk("VEVENT")
    }
    vcal = vobject.readOne(text)
    assert vcal.method.value == method
    by_vobject = {
        e.uid.value: Seen(
            e.status.value, int(e.sequence.value), e.dtstart.value.astimezone(UTC), e.summary.value
        )
        for e in vcal.vevent_list
    }
    strict = IcsCalendarStream.calendar_from_ics(text)
    assert strict.method == method
    by_ical = {
        e.uid: Seen(str(e.status.value), e.sequence, e.dtstart.astimezone(UTC), e.summary)  # type: ignore[union-attr]
        for e in strict.events
    }
    assert by_icalendar == by_vobject == by_ical
    # A PUBLISH names its organizer (RFC 5546 3.2.1), each event's the sender.
    assert {str(e["ORGANIZER"]) for e in cal.walk("VEVENT")} <= {"mailto:brugernesrum@roskilde.example"}
    return by_icalendar


def ok(project: Project, when: datetime, *args: str) -> str:
    code, out = project.main(*args, now=when)
    assert code == 0, out
    return out


@dataclass(frozen=True)
class Told:
    """What every command says about the meeting at one moment."""

    check: str  # the meeting's line in `mailer check`
    warnings: list[str]  # check's warnings about it
    status: list[str]  # `mailer status MEETING`: its first two lines
    feed: dict[str, Seen]
    ics: Seen
    upcoming: dict[str, str]  # the newsletter's list of coming meetings, per member (da, en)
    attached: dict[str, Seen]  # the newsletter's meetings.ics


def told(project: Project, when: datetime, tmp_path: Path) -> Told:
    checked = ok(project, when, "check")
    line = next(x.strip() for x in checked.splitlines() if x.strip().startswith(f"{MEETING_ID}: "))
    warnings = [x for x in checked.splitlines() if x.startswith("warning: ") and MEETING_ID in x]
    status = ok(project, when, "status", MEETING_ID).splitlines()[:2]
    feed, ics = tmp_path / "feed.ics", tmp_path / "one.ics"
    ok(project, when, "feed", "-o", str(feed))
    ok(project, when, "ics", MEETING_ID, "-o", str(ics))
    one = events(ics.read_bytes(), "PUBLISH")
    assert list(one) == [UID]
    outbox = tmp_path / f"preview-{when:%H%M}"
    ok(project, when, "preview", "newsletter", "--out", str(outbox))
    letters = {}
    for path in outbox.rglob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        letters[msg["To"].addresses[0].addr_spec] = msg
    upcoming = {address: coming(letters[address]) for address in (SOREN, MARIA)}
    attached = [
        events(part.get_payload(decode=True), "PUBLISH") for part in letters[SOREN].iter_attachments()
    ]
    return Told(
        line,
        warnings,
        status,
        events(feed.read_bytes(), "PUBLISH"),
        one[UID],
        upcoming,
        attached[0] if attached else {},
    )


def coming(msg: EmailMessage) -> str:
    """The newsletter's list of coming meetings, as one line of words."""
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = re.sub(r"\s+", " ", str(body.get_content()))
    found = re.search(
        r"(?:Kommende arrangementer|Upcoming events) (.*?) (?:Venlig hilsen|Kind regards)", text
    )
    assert found, text
    return found.group(1)


def test_invite_move_cancel_every_command_says_the_same(
    project: Project, server: SmtpServer, tmp_path: Path
) -> None:
    project.meetings.append(dict(LATER))
    invitation = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
    members = len(project.members)
    later = Seen("TENTATIVE", 0, datetime(2027, 11, 16, 9, 0, tzinfo=UTC), LATER["title"])

    # Invited: confirmed, sequence 0, 13:00 summer time (11:00Z), everywhere.
    ok(project, at(0), *invitation)
    now = told(project, at(1), tmp_path)
    invited = Seen("CONFIRMED", 0, datetime(2027, 9, 21, 11, 0, tzinfo=UTC), MEETING["title"])
    assert now.check == f"{MEETING_ID}: {SEPTEMBER_21}, {PLACE} (bekræftet)"
    assert now.warnings == []
    assert now.status == [
        f"{MEETING_ID}: sequence 0, {members} members invited",
        f"  {SEPTEMBER_21}, {PLACE} (bekræftet)",
    ]
    assert now.feed == {UID: invited, LATER_UID: later}
    assert now.ics == invited
    assert now.upcoming[SOREN] == (
        f"- {SEPTEMBER_21}: {MEETING['title']}, {PLACE} - tirsdag den 16. november 2027 kl. 10.00–14.30: "
        f"{LATER['title']}, {LATER['location']} (foreløbig dato) Møderne er vedhæftet som kalenderfil "
        "(meetings.ics): åbn den for at sætte dem i din kalender."
    )
    assert now.upcoming[MARIA].startswith(
        f"- Tuesday, 21 September 2027 at 13:00–16:00: {MEETING['title']}, "
    )
    assert now.attached == now.feed

    # Moved a week on and an hour later in config.toml; before the update goes out, check says
    # so and the published calendars already carry what members' calendars will hold after it.
    project.meetings[0].update(start="2027-09-28T14:00:00", end="2027-09-28T17:00:00")
    moved = Seen("CONFIRMED", 1, datetime(2027, 9, 28, 12, 0, tzinfo=UTC), MEETING["title"])
    now = told(project, at(10), tmp_path)
    assert now.check == f"{MEETING_ID}: {SEPTEMBER_28}, {PLACE} (bekræftet)"
    assert len(now.warnings) == 1 and "changed since members were invited" in now.warnings[0]
    assert now.feed == {UID: moved, LATER_UID: later} and now.ics == moved == now.attached[UID]
    assert SEPTEMBER_28 in now.upcoming[SOREN] and SEPTEMBER_21 not in now.upcoming[SOREN]

    before = len(server.messages)
    ok(project, at(20), *invitation)
    updates = server.messages[before:]
    assert len(updates) == members
    for msg in updates:
        calendar = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        assert events(calendar.get_payload(decode=True), "REQUEST") == {UID: moved}
    now = told(project, at(21), tmp_path)
    assert now.warnings == []
    assert now.status[0] == f"{MEETING_ID}: sequence 1, {members} members invited"
    assert now.status[1] == f"  {SEPTEMBER_28}, {PLACE} (bekræftet)"
    assert now.feed == {UID: moved, LATER_UID: later} and now.ics == moved == now.attached[UID]

    # Cancelled with `mailer cancel` (config.toml still says confirmed): cancelled everywhere,
    # with a SEQUENCE no lower than the CANCEL members got, so subscribed calendars drop it.
    before = len(server.messages)
    ok(project, at(30), "cancel", MEETING_ID, "--yes")
    cancels = server.messages[before:]
    assert len(cancels) == members
    sent = {
        seen.sequence
        for msg in cancels
        for seen in events(
            next(p for p in msg.walk() if p.get_content_type() == "text/calendar").get_payload(decode=True),
            "CANCEL",
        ).values()
    }
    assert sent == {2}
    gone = Seen("CANCELLED", 2, moved.start, MEETING["title"])
    now = told(project, at(31), tmp_path)
    assert now.check == f"{MEETING_ID}: {SEPTEMBER_28}, {PLACE} (aflyst)"
    assert len(now.warnings) == 1
    assert "cancelled with `mailer cancel`" in now.warnings[0] and 'status = "cancelled"' in now.warnings[0]
    assert now.status[1] == f"  {SEPTEMBER_28}, {PLACE} (aflyst)"
    assert now.feed == {UID: gone, LATER_UID: later}
    assert now.ics == gone
    assert MEETING["title"] not in now.upcoming[SOREN] + now.upcoming[MARIA]
    assert now.upcoming[SOREN].startswith(
        f"- tirsdag den 16. november 2027 kl. 10.00–14.30: {LATER['title']}"
    )
    assert now.attached == now.feed  # a calendar that took it from an earlier newsletter drops it

    # Writing status = "cancelled" into config.toml, as check asks, changes nothing members see.
    project.meetings[0]["status"] = "cancelled"
    after = told(project, at(40), tmp_path)
    assert after.warnings == []
    assert (after.check, after.status[1], after.feed, after.ics, after.attached) == (
        now.check,
        now.status[1],
        now.feed,
        now.ics,
        now.attached,
    )
    assert len(server.messages) == before + members  # and nothing more was sent


def newsletter_calendar(project: Project, when: datetime, out: Path) -> dict[str, Seen]:
    """The meetings.ics a member finds in the newsletter, as calendars read it; the part says
    the same method as the calendar in it."""
    ok(project, when, "preview", "newsletter", "--out", str(out))
    path = next(p for p in out.rglob("*.eml") if SOREN in p.name)
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    (part,) = (p for p in msg.iter_attachments() if p.get_filename() == "meetings.ics")
    assert part.get_content_type() == "text/calendar" and part.get_param("method") == "PUBLISH"
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return events(data, "PUBLISH")


@pytest.mark.parametrize("cancelled_by", ["mailer cancel", "config.toml"])
def test_a_newsletter_calendar_file_carries_a_cancelled_meeting_as_cancelled(
    project: Project, server: SmtpServer, tmp_path: Path, cancelled_by: str
) -> None:
    """A member who opened an earlier newsletter's meetings.ics sees the meeting cancelled when
    they open the next one's: it is still in the file, with the same UID, a higher SEQUENCE and
    STATUS:CANCELLED (a PUBLISH, as the file is addressed to no one), not left out, which would
    leave it in their calendar."""
    project.meetings.append(dict(LATER))
    ok(project, at(0), "send", "invitation", "--meeting", MEETING_ID, "--yes")
    earlier = newsletter_calendar(project, at(1), tmp_path / "earlier")
    assert earlier[UID].status == "CONFIRMED"
    if cancelled_by == "mailer cancel":
        ok(project, at(2), "cancel", MEETING_ID, "--yes")
    else:
        project.meetings[0]["status"] = "cancelled"
    now = newsletter_calendar(project, at(3), tmp_path / "now")
    assert set(now) == {UID, LATER_UID}
    assert now[UID].status == "CANCELLED"
    assert now[UID].sequence > earlier[UID].sequence
    assert (now[UID].start, now[UID].summary) == (earlier[UID].start, earlier[UID].summary)
    assert now[LATER_UID] == earlier[LATER_UID]


def test_published_calendars_are_named_after_the_sender(project: Project, tmp_path: Path) -> None:
    """A subscribed calendar shows the network's name (sender.name), whatever it is."""
    project.sender_name = "Læsernes Rum, Region Sjælland"
    told_now = told(project, at(0), tmp_path)
    assert told_now.ics.summary == MEETING["title"]
    for path in (tmp_path / "feed.ics", tmp_path / "one.ics", *tmp_path.rglob("meetings.ics")):
        data = path.read_bytes()
        # icalendar keeps an X- property as written; it is TEXT (RFC 5545 3.3.11), commas escaped
        raw = str(icalendar.Calendar.from_ical(data)["X-WR-CALNAME"])
        assert raw == project.sender_name.replace(",", "\\,")
        assert vobject.readOne(data.decode("utf-8")).x_wr_calname.value == project.sender_name


def test_an_update_and_a_cancellation_as_sent_fit_a_phone(project: Project, server: SmtpServer) -> None:
    """The update and the cancellation, which only members invited before get, fit a phone as
    the server received them (sent first: Playwright's browser runs an event loop of its own,
    and a send needs one)."""
    invitation = ("send", "invitation", "--meeting", MEETING["id"], "--yes")
    code, out = project.main(*invitation)
    assert code == 0, out
    project.meetings[0].update(
        start="2027-09-22T13:00:00",
        end="2027-09-23T16:00:00",  # two days: the longest way to write when
        location="Roskilde Bibliotek, Salen på første sal, Dronning Margrethes Vej 14, 4000 Roskilde",
    )
    sent = []
    for args in (invitation, ("cancel", MEETING["id"], "--yes")):
        before = len(server.messages)
        code, out = project.main(*args)
        assert code == 0, out
        assert len(server.messages) - before == len(project.members)
        sent += [(args[0], msg) for msg in server.messages[before:]]
    with chromium() as browser:
        for what, msg in sent:
            fits_a_phone_and_a_desktop(browser, html_of(msg), f"{what} to {msg['To']}")
