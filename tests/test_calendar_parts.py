"""Every calendar part of every kind of message mailer sends (invitation, update, reminder,
newsletter, cancellation), read from the bytes a test SMTP server received: each says
charset="UTF-8" and the method its calendar has (RFC 6047 2.4), and survives æøå."""

from __future__ import annotations

from email.message import EmailMessage

import icalendar
from conftest import MEETING, Project, SmtpServer
from ical.calendar_stream import IcsCalendarStream

MEETING_ID = MEETING["id"]


def calendar_parts(msg: EmailMessage) -> list[EmailMessage]:
    """The inline text/calendar part and any .ics attachment."""
    return [
        part
        for part in msg.walk()
        if part.get_content_type() in ("text/calendar", "application/ics")
        or (part.get_filename() or "").endswith(".ics")
    ]


def methods_of(msg: EmailMessage) -> list[str]:
    """The METHOD of each calendar part, after checking what its headers say about it."""
    found = []
    for part in calendar_parts(msg):
        assert part.get_param("charset") == "UTF-8", part["Content-Type"]
        assert part["Content-Transfer-Encoding"] in ("base64", "quoted-printable")  # no raw 8bit
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        text = data.decode("utf-8")  # what charset="UTF-8" promises
        method = str(icalendar.Calendar.from_ical(data)["METHOD"])
        assert IcsCalendarStream.calendar_from_ics(text).method == method
        assert part.get_param("method") == method, part["Content-Type"]
        assert "Netværksmøde" in text  # the title's æ, as sent
        found.append(method)
    for part in msg.walk():
        if part.get_content_maintype() == "text" and part.get_content_type() != "text/calendar":
            assert str(part.get_param("charset")).upper() == "UTF-8", part["Content-Type"]
    return found


def sent(project: Project, server: SmtpServer, *args: str) -> list[list[str]]:
    """Run `mailer ARGS`; the calendar methods of each message it sent."""
    before = len(server.messages)
    code, out = project.main(*args)
    assert code == 0, out
    messages = server.messages[before:]
    assert messages, out
    return [methods_of(msg) for msg in messages]


def test_every_calendar_part_says_its_charset_and_method(
    project: Project, server: SmtpServer, plain: bool
) -> None:
    members = len(project.members)
    invitation = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
    # inline for the calendar program, attached for those that only import files
    assert sent(project, server, *invitation) == [["REQUEST", "REQUEST"]] * members

    project.meetings[0].update(start="2027-09-21T14:00:00", end="2027-09-21T17:00:00")
    assert sent(project, server, *invitation) == [["REQUEST", "REQUEST"]] * members  # the update

    reminded = sent(project, server, "send", "reminder", "--meeting", MEETING_ID, "--yes")
    assert reminded == [[]] * members  # a plain message: the calendar already has the meeting

    assert sent(project, server, "send", "newsletter", "--yes") == [["PUBLISH"]] * members

    assert sent(project, server, "cancel", MEETING_ID, "--yes") == [["CANCEL", "CANCEL"]] * members
