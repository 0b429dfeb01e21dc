"""Makes outlook-accept.msg and outlook-plain.msg: Outlook's own .msg format, written by the
`msgforge` library (pip install msgforge; not a dependency of mailer, only used here once).

    python tests/data/inbox/make_outlook_msg.py

outlook-accept.msg is Mads Køhler's answer saved from the coordinator's Outlook: a note with
the REPLY calendar attached. outlook-plain.msg is a plain reply with no calendar in it.
"""

from datetime import UTC, datetime
from pathlib import Path

from msgforge import Message

HERE = Path(__file__).resolve().parent
COORDINATOR = ("brugernesrum@roskilde.example", "Brugernes Rum")
MADS = ("mads.kohler@koege.example", "Mads Køhler")

REPLY = """\
BEGIN:VCALENDAR
METHOD:REPLY
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
BEGIN:VEVENT
ATTENDEE;PARTSTAT=ACCEPTED;CN=Mads Køhler:mailto:mads.kohler@koege.example
COMMENT;LANGUAGE=da-DK:Jeg tager kage med til frokosten.
SUMMARY;LANGUAGE=da-DK:Accepteret: Netværksmøde: Hvad siger brugerne?
DTSTART:20270921T110000Z
DTEND:20270921T140000Z
UID:2027-09-21-hvad-siger-brugerne@roskilde.example
DTSTAMP:20261126T091500Z
SEQUENCE:0
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")

accept = Message(
    subject="Accepteret: Netværksmøde: Hvad siger brugerne?",
    text_body="Jeg tager kage med til frokosten.",
    to=[COORDINATOR],
    sender=MADS,
    sent=datetime(2026, 11, 26, 9, 15, tzinfo=UTC),
)
accept.attach_bytes("invite.ics", REPLY.encode("utf-8"), mime_type="text/calendar")
accept.save(HERE / "outlook-accept.msg")

plain = Message(
    subject="SV: Netværksmøde: Hvad siger brugerne?",
    text_body="Hej Brugernes Rum\n\nJa tak, jeg kommer, men først kl. 14.\n\nVenlig hilsen\nSøren Ærø",
    to=[COORDINATOR],
    sender=("soren.aero@vordingborg.example", "Søren Ærø"),
    sent=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
)
plain.save(HERE / "outlook-plain.msg")
