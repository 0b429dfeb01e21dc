"""A meeting's whole life in members' calendars, through a real SMTP server on loopback:
invite, re-run, move, add and remove members, cancel; reminders to those still coming.

Every calendar that arrives is read by three parsers that share no code (icalendar, vobject,
ical) and they must agree on what members' calendars will do with it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import FIXED, MEETING_ID, ROOT, Project, SmtpServer
from ical.calendar_stream import IcsCalendarStream

from mailer.cli import main

# What members receive is the same on the fast path and the plain one (MAILER_PLAIN=1).
pytestmark = pytest.mark.usefixtures("plain")

UID = f"{MEETING_ID}@roskilde.example"
REPLIES = ROOT / "tests" / "data" / "replies"
LISE = ("Lise Grøn", "lise.gron@greve.example", "Greve Bibliotek", "da")


@dataclass(frozen=True)
class Arrived:
    """One message as the member's calendar sees it."""

    to: str
    method: str
    uid: str
    sequence: int
    status: str
    dtstamp: datetime
    start: datetime  # UTC
    attendees: tuple[str, ...]
    alarm: timedelta | None
    subject: str
    text: str


def at(minutes: int) -> datetime:
    return FIXED + timedelta(minutes=minutes)


def run(project: Project, when: datetime, *args: str) -> tuple[int, str]:
    """`mailer ARGS` with the clock at `when` (each step of a meeting's life is a new moment)."""
    project.write()
    out = io.StringIO()
    code = main(["--config", str(project.config), *args], clock=lambda: when, out=out)
    return code, out.getvalue()


def arrived(server: SmtpServer, since: int = 0) -> dict[str, Arrived]:
    """Messages received after the first `since`, by recipient, each calendar parsed three ways."""
    found: dict[str, Arrived] = {}
    for msg in server.messages[since:]:
        to = msg["To"].addresses[0].addr_spec.casefold()
        assert to not in found, f"{to} got two messages in one run"
        found[to] = read(msg)
    return found


def read(msg: EmailMessage) -> Arrived:
    to = msg["To"].addresses[0].addr_spec.casefold()
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    inline = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    if not inline:
        return Arrived(to, "", "", -1, "", FIXED, FIXED, (), None, str(msg["Subject"]), text)
    assert len(inline) == 1
    data = inline[0].get_payload(decode=True)
    attached = [p for p in msg.walk() if p.get_filename() == "invite.ics"]
    assert [p.get_payload(decode=True) for p in attached] == [data]

    cal = icalendar.Calendar.from_ical(data)
    event = cal.walk("VEVENT")[0]
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    alarms = event.walk("VALARM")
    first = Arrived(
        to=to,
        method=str(cal["METHOD"]),
        uid=str(event["UID"]),
        sequence=int(event["SEQUENCE"]),
        status=str(event["STATUS"]),
        dtstamp=event["DTSTAMP"].dt,
        start=event["DTSTART"].dt.astimezone(UTC),
        attendees=tuple(str(a).removeprefix("mailto:").casefold() for a in attendees),
        alarm=-alarms[0]["TRIGGER"].dt if alarms else None,
        subject=str(msg["Subject"]),
        text=text,
    )
    assert inline[0].get_param("method") == first.method

    vcal = vobject.readOne(data.decode("utf-8"))
    vevent = vcal.vevent
    assert vcal.method.value == first.method
    assert vevent.uid.value == first.uid
    assert int(vevent.sequence.value) == first.sequence
    assert vevent.status.value == first.status
    assert vevent.dtstamp.value == first.dtstamp
    assert vevent.dtstart.value.astimezone(UTC) == first.start
    assert [a.value.removeprefix("mailto:").casefold() for a in vevent.attendee_list] == list(first.attendees)

    strict = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    sevent = strict.events[0]
    assert strict.method == first.method
    assert (sevent.uid, sevent.sequence, str(sevent.status.value)) == (
        first.uid,
        first.sequence,
        first.status,
    )
    assert sevent.dtstamp == first.dtstamp
    assert sevent.dtstart.astimezone(UTC) == first.start
    assert [a.uri.removeprefix("mailto:").casefold() for a in sevent.attendees] == list(first.attendees)
    assert (-sevent.alarm[0].trigger if sevent.alarm else None) == first.alarm
    return first


def addresses(project: Project) -> set[str]:
    return {m[1] for m in project.members}


def test_a_meeting_from_invitation_through_moves_and_members_to_cancellation(
    project: Project, server: SmtpServer
) -> None:
    send = ("send", "invitation", "--meeting", MEETING_ID, "--yes")

    # Invite: one REQUEST per member, SEQUENCE 0, the member as the only ATTENDEE.
    code, out = run(project, at(0), *send)
    assert code == 0, out
    first = arrived(server)
    assert set(first) == addresses(project)
    for to, got in first.items():
        assert (got.method, got.uid, got.sequence, got.status) == ("REQUEST", UID, 0, "CONFIRMED")
        assert got.attendees == (to,)
        assert got.dtstamp == at(0)
        assert got.start == datetime(2027, 9, 21, 11, 0, tzinfo=UTC)  # 13:00 summer time
        assert "Tidspunkt:" not in got.text and "Time:" not in got.text

    # Re-run: nothing changed, nothing is sent.
    count = len(server.messages)
    code, out = run(project, at(10), *send)
    assert code == 0, out
    assert "nothing to send" in out
    assert len(server.messages) == count

    # Move the time: an update to every member, SEQUENCE 1, same UID, fresh DTSTAMP,
    # and the text says old -> new time in the member's own language.
    project.meetings[0].update(start="2027-09-22T13:00:00", end="2027-09-22T16:00:00")
    code, out = run(project, at(20), *send)
    assert code == 0, out
    moved = arrived(server, count)
    assert set(moved) == addresses(project)
    for got in moved.values():
        assert (got.method, got.uid, got.sequence) == ("REQUEST", UID, 1)
        assert got.dtstamp == at(20)
        assert got.start == datetime(2027, 9, 22, 11, 0, tzinfo=UTC)
    danish = moved["soren.aero@vordingborg.example"]
    assert danish.subject.startswith("Ændret: ")
    assert (
        "Tidspunkt: tirsdag den 21. september 2027 kl. 13.00–16.00 → "
        "onsdag den 22. september 2027 kl. 13.00–16.00"
    ) in danish.text
    english = moved["maria.lohse@roskilde.example"]
    assert (
        "Time: Tuesday, 21 September 2027 at 13:00–16:00 → Wednesday, 22 September 2027 at 13:00–16:00"
        in (english.text)
    )
    assert "Tidspunkt" not in english.text

    # Add a member: only the new member is sent anything, a first invitation at the current SEQUENCE.
    project.members.append(LISE)
    count = len(server.messages)
    code, out = run(project, at(30), *send)
    assert code == 0, out
    added = arrived(server, count)
    assert list(added) == [LISE[1]]
    lise = added[LISE[1]]
    assert (lise.method, lise.uid, lise.sequence) == ("REQUEST", UID, 1)
    assert "Tidspunkt:" not in lise.text and not lise.subject.startswith("Ændret")
    count = len(server.messages)
    code, out = run(project, at(35), *send)
    assert "nothing to send" in out
    assert len(server.messages) == count

    # Remove a member: `send` lists them and sends nothing by itself ...
    mads = project.members.pop(3)
    assert mads[1] == "mads.kohler@koege.example"
    code, out = run(project, at(40), *send)
    assert code == 0, out
    assert "1 member was invited but is no longer on the list" in out
    assert mads[1] in out and "--cancel-removed" in out
    assert len(server.messages) == count

    # ... and with --cancel-removed cancels it in their calendar, with a SEQUENCE above the
    # one they hold (RFC 5546 3.2.5: a CANCEL carries a higher SEQUENCE).
    code, out = run(project, at(50), *send, "--cancel-removed")
    assert code == 0, out
    removed = arrived(server, count)
    assert list(removed) == [mads[1]]
    got = removed[mads[1]]
    assert (got.method, got.uid, got.sequence, got.status) == ("CANCEL", UID, 2, "CANCELLED")
    assert got.attendees == (mads[1],)
    assert "aflyst" in got.text
    count = len(server.messages)
    code, out = run(project, at(55), *send, "--cancel-removed")
    assert "nothing to send" in out and mads[1] not in out
    assert len(server.messages) == count

    # Mads comes back: a first invitation again, above the CANCEL his calendar holds; the
    # others are not sent anything, and a re-run sends nothing.
    project.members.append(mads)
    code, out = run(project, at(57), *send)
    assert code == 0, out
    back = arrived(server, count)
    assert list(back) == [mads[1]]
    assert (back[mads[1]].method, back[mads[1]].sequence) == ("REQUEST", 3)
    count = len(server.messages)
    code, out = run(project, at(58), *send)
    assert "nothing to send" in out
    assert len(server.messages) == count

    # Cancel the meeting: every member whose calendar holds it, above any SEQUENCE sent.
    code, out = run(project, at(60), "cancel", MEETING_ID, "--yes")
    assert code == 0, out
    cancelled = arrived(server, count)
    assert set(cancelled) == addresses(project)
    for to, got in cancelled.items():
        assert (got.method, got.uid, got.sequence, got.status) == ("CANCEL", UID, 4, "CANCELLED")
        assert got.attendees == (to,)
        assert got.dtstamp == at(60)
    assert "er aflyst" in cancelled["soren.aero@vordingborg.example"].text
    assert "cancelled" in cancelled["maria.lohse@roskilde.example"].text

    count = len(server.messages)
    code, out = run(project, at(70), "cancel", MEETING_ID, "--yes")
    assert code == 0 and "nothing to send" in out
    assert len(server.messages) == count

    code, out = run(project, at(80), "status", MEETING_ID)
    assert code == 0
    assert "sequence 4, 5 members invited" in out
    assert "cancelled: 5" in out


def test_cancel_reaches_only_members_ever_invited(project: Project, server: SmtpServer) -> None:
    code, out = run(project, at(0), "send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    project.members.append(LISE)  # on the list now, but never invited
    count = len(server.messages)
    code, out = run(project, at(5), "cancel", MEETING_ID, "--dry-run")
    assert code == 0, out
    assert len(server.messages) == count  # a dry run sends nothing
    code, out = run(project, at(10), "cancel", MEETING_ID, "--yes")
    assert code == 0, out
    got = arrived(server, count)
    assert set(got) == addresses(project) - {LISE[1]}
    assert {g.sequence for g in got.values()} == {1}


def test_editing_the_config_back_still_raises_the_sequence(project: Project, server: SmtpServer) -> None:
    send = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
    original = dict(project.meetings[0])
    assert run(project, at(0), *send)[0] == 0
    project.meetings[0]["location"] = "Greve Bibliotek, Rådhusholmen 20, 2670 Greve"
    assert run(project, at(10), *send)[0] == 0
    count = len(server.messages)

    project.meetings[0] = original
    code, out = run(project, at(20), *send)
    assert code == 0, out
    back = arrived(server, count)
    assert set(back) == addresses(project)
    assert {g.sequence for g in back.values()} == {2}
    assert (
        "Sted: Greve Bibliotek, Rådhusholmen 20, 2670 Greve → "
        "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde"
    ) in back["soren.aero@vordingborg.example"].text


def test_status_cancelled_in_config_then_send_is_the_same_as_cancel(
    project: Project, server: SmtpServer
) -> None:
    send = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert run(project, at(0), *send)[0] == 0
    count = len(server.messages)
    project.meetings[0]["status"] = "cancelled"
    code, out = run(project, at(10), *send)
    assert code == 0, out
    got = arrived(server, count)
    assert set(got) == addresses(project)
    for to, one in got.items():
        assert (one.method, one.uid, one.sequence, one.status) == ("CANCEL", UID, 1, "CANCELLED")
        assert one.attendees == (to,)
    assert "er aflyst" in got["anne.mette@roskilde.example"].text

    # `mailer cancel` afterwards has nothing left to do: the same cancellation was sent.
    count = len(server.messages)
    code, out = run(project, at(20), "cancel", MEETING_ID, "--yes")
    assert code == 0 and "nothing to send" in out
    assert len(server.messages) == count


def test_status_change_is_described_in_the_members_language(project: Project, server: SmtpServer) -> None:
    send = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
    project.meetings[0]["status"] = "tentative"
    assert run(project, at(0), *send)[0] == 0
    count = len(server.messages)
    project.meetings[0]["status"] = "confirmed"
    assert run(project, at(10), *send)[0] == 0
    got = arrived(server, count)
    assert {g.status for g in got.values()} == {"CONFIRMED"}
    assert "Status: foreløbig → bekræftet" in got["soren.aero@vordingborg.example"].text
    assert "Status: tentative → confirmed" in got["maria.lohse@roskilde.example"].text


def test_reminder_alarm_and_reminders_only_to_those_still_coming(
    project: Project, server: SmtpServer, tmp_path: Path
) -> None:
    project.meetings[0]["reminder"] = "P1D"
    project.members.append(LISE)
    code, out = run(project, at(0), "send", "invitation", "--meeting", MEETING_ID, "--only", LISE[1], "--yes")
    assert code == 0, out
    project.members.pop()  # Lise was invited, then left the list: no reminder for her
    code, out = run(project, at(1), "send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    invited = arrived(server)
    assert {g.alarm for g in invited.values()} == {timedelta(days=1)}

    # Søren accepts (Outlook), Anne Mette declines (Gmail), Mads is tentative (Thunderbird),
    # Maria does not answer.
    replies = [str(REPLIES / name) for name in ("outlook.eml", "gmail.eml", "thunderbird.eml")]
    code, out = run(project, at(30), "rsvp", *replies)
    assert code == 0, out
    assert "recorded 3 answers" in out

    count = len(server.messages)
    code, out = run(project, at(40), "send", "reminder", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    reminded = arrived(server, count)
    assert set(reminded) == {
        "soren.aero@vordingborg.example",
        "maria.lohse@roskilde.example",
        "mads.kohler@koege.example",
    }
    assert "anne.mette@roskilde.example" not in reminded
    assert all(r.method == "" for r in reminded.values())  # a plain message, no calendar
    assert reminded["soren.aero@vordingborg.example"].subject.startswith("Påmindelse: ")

    count = len(server.messages)
    code, out = run(project, at(50), "send", "reminder", "--meeting", MEETING_ID, "--yes")
    assert "nothing to send" in out
    assert len(server.messages) == count


def test_cancel_removed_spares_unsubscribed_members_and_refuses_an_incomplete_list(
    project: Project, server: SmtpServer
) -> None:
    """Members left out as unsubscribed or because their row is invalid are not 'removed'."""
    send = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
    code, out = run(project, at(0), *send)
    assert code == 0, out
    count = len(server.messages)

    code, out = run(project, at(5), "unsubscribe", "maria.lohse@roskilde.example")
    assert code == 0, out
    code, out = run(project, at(10), *send, "--cancel-removed")
    assert code == 0, out
    assert "nothing to send" in out and len(server.messages) == count

    project.members[0] = (*project.members[0][:3], "sv")  # Søren's row now invalid
    project.members.pop(3)  # Mads really is taken off
    code, out = run(project, at(20), *send, "--skip-invalid", "--cancel-removed")
    assert code == 2
    assert len(server.messages) == count

    project.members[0] = (*project.members[0][:3], "da")
    code, out = run(project, at(30), *send, "--cancel-removed")
    assert code == 0, out
    assert list(arrived(server, count)) == ["mads.kohler@koege.example"]


def test_a_cancelled_meeting_is_not_reinstated_by_accident(project: Project, server: SmtpServer) -> None:
    """After `mailer cancel`, a `send invitation` with config.toml still saying confirmed would
    put the meeting back in every calendar: it takes --reinstate."""
    send = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert run(project, at(0), *send)[0] == 0
    assert run(project, at(5), "cancel", MEETING_ID, "--yes")[0] == 0
    count = len(server.messages)

    code, out = run(project, at(10), *send)
    assert code == 2
    assert len(server.messages) == count

    code, out = run(project, at(15), *send, "--reinstate")
    assert code == 0, out
    back = arrived(server, count)
    assert set(back) == addresses(project)
    assert {(got.method, got.sequence) for got in back.values()} == {("REQUEST", 2)}


def test_a_meeting_taken_out_of_config_can_still_be_cancelled(project: Project, server: SmtpServer) -> None:
    code, out = run(project, at(0), "send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    count = len(server.messages)
    project.meetings = []  # the coordinator deleted it from config.toml
    code, out = run(project, at(10), "cancel", MEETING_ID, "--yes")
    assert code == 0, out
    cancelled = arrived(server, count)
    assert set(cancelled) == addresses(project)
    assert {(got.method, got.uid, got.sequence, got.status) for got in cancelled.values()} == {
        ("CANCEL", UID, 1, "CANCELLED")
    }
    code, out = run(project, at(20), "cancel", "2027-01-01-never-held", "--yes")
    assert code == 2


def test_a_cancellation_is_written_for_the_member_as_the_list_has_them(
    project: Project, server: SmtpServer
) -> None:
    """Members still on the list get their library and columns in the cancellation and its
    preview; one taken off the list is cancelled as the journal knows them, with no warning about
    a list row they no longer have."""
    assert run(project, at(0), "send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    body = project.root / "templates" / "cancellation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8") + "Bibliotek: {{ recipient.organization }}\n", "utf-8")
    mads = project.members.pop(3)

    preview = project.root / "aflysning"
    code, out = run(project, at(5), "cancel", MEETING_ID, "--dry-run")
    assert code == 0, out
    project.meetings[0]["status"] = "cancelled"
    code, out = run(project, at(5), "preview", "invitation", "--meeting", MEETING_ID, "--out", str(preview))
    assert code == 0, out
    page = next(preview.glob("*/index.html")).read_text(encoding="utf-8")
    assert "intet bibliotek" not in page
    assert "Vordingborg Bibliotekerne" in page and "Roskilde Bibliotekerne" in page

    count = len(server.messages)
    code, out = run(project, at(10), "cancel", MEETING_ID, "--yes")
    assert code == 0, out
    got = arrived(server, count)
    assert set(got) == addresses(project) | {mads[1]}
    for name, address, library, language in project.members:
        lines = got[address].text.splitlines()
        if language == "da":  # the Danish template was given the library
            assert f"Kære {name}" in lines and f"Bibliotek: {library}" in lines
        else:
            assert f"Dear {name}" in lines
    lines = got[mads[1]].text.splitlines()
    assert f"Kære {mads[0]}" in lines and lines[-1].rstrip() == "Bibliotek:"
