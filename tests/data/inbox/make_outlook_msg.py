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


# -- meeting responses -------------------------------------------------------------------
# An answer that arrived in Outlook is kept as a meeting response item: no calendar attached,
# the answer in the message class (MS-OXOCAL 2.2.6.1) and the meeting in MAPI properties
# (MS-OXOCAL 2.2.1). msgforge writes notes only, so these are written with aspose-email-foss
# (pip install aspose-email-foss; MIT), which writes any message class and named property.

from aspose.email_foss import msg as mapi  # noqa: E402

PSETID_MEETING = "6ED8DA90-450B-101B-98DA-00AA003F1305"
PSETID_APPOINTMENT = "00062002-0000-0000-C000-000000000046"
UID = "2027-09-21-hvad-siger-brugerne@roskilde.example"
RESPONSE_STATUS = {"Pos": 3, "Neg": 4, "Tent": 2}  # PidLidResponseStatus: respAccepted, ...


def global_object_id(uid: str) -> bytes:
    """PidLidGlobalObjectId of a meeting that came from an iCalendar UID (MS-OXCICAL 2.1.3.1.1.20.26)."""
    data = b"vCal-Uid" + (1).to_bytes(4, "little") + uid.encode("utf-8") + b"\x00"
    head = bytes.fromhex("040000008200E00074C5B7101A82E008")
    return head + bytes(4) + bytes(8) + bytes(8) + len(data).to_bytes(4, "little") + data


def meeting_response(
    file: str, kind: str, subject: str, note: str, sender: tuple[str, str], sent: datetime, sequence: int
) -> None:
    item = mapi.MapiMessage.create(subject, note)
    item.message_class = f"IPM.Schedule.Meeting.Resp.{kind}"
    address, name = sender
    text, time, binary, number = (
        mapi.PropertyTypeCode.PTYP_STRING,
        mapi.PropertyTypeCode.PTYP_TIME,
        mapi.PropertyTypeCode.PTYP_BINARY,
        mapi.PropertyTypeCode.PTYP_INTEGER32,
    )
    for tag, kind_of, value in (
        (0x0C1A, text, name),  # PidTagSenderName
        (0x0C1E, text, "SMTP"),  # PidTagSenderAddressType
        (0x0C1F, text, address),  # PidTagSenderEmailAddress
        (0x5D01, text, address),  # PidTagSenderSmtpAddress
        (0x0042, text, name),  # PidTagSentRepresentingName
        (0x0064, text, "SMTP"),  # PidTagSentRepresentingAddressType
        (0x0065, text, address),  # PidTagSentRepresentingEmailAddress
        (0x0039, time, sent),  # PidTagClientSubmitTime
        (0x0E06, time, sent),  # PidTagMessageDeliveryTime
    ):
        item.set_property(tag, kind_of, value)
    goid = global_object_id(UID)
    for lid, property_set, kind_of, value in (
        (0x0003, PSETID_MEETING, binary, goid),  # PidLidGlobalObjectId
        (0x0023, PSETID_MEETING, binary, goid),  # PidLidCleanGlobalObjectId
        (0x8201, PSETID_APPOINTMENT, number, sequence),  # PidLidAppointmentSequence
        (0x8218, PSETID_APPOINTMENT, number, RESPONSE_STATUS[kind]),  # PidLidResponseStatus
        (0x820D, PSETID_APPOINTMENT, time, datetime(2027, 9, 21, 11, tzinfo=UTC)),  # start
        (0x820E, PSETID_APPOINTMENT, time, datetime(2027, 9, 21, 14, tzinfo=UTC)),  # end
    ):
        item.set_named_property(mapi.MapiNamedProperty.numeric(lid, property_set), kind_of, value)
    item.add_recipient(COORDINATOR[0], display_name=COORDINATOR[1])
    item.save(HERE / file)


meeting_response(
    "outlook-response-declined.msg",
    "Neg",
    "Declined: Netværksmøde: Hvad siger brugerne?",
    "I am on holiday that week, sorry.",
    ("maria.lohse@roskilde.example", "Maria Lohse"),
    datetime(2026, 11, 26, 14, 5, tzinfo=UTC),
    0,
)
meeting_response(
    "outlook-response-accepted.msg",
    "Pos",
    "Accepteret: Netværksmøde: Hvad siger brugerne?",
    "",
    ("anne.mette@roskilde.example", "Anne Mette Bøttcher Jensen"),
    datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
    0,
)
meeting_response(
    "outlook-response-tentative.msg",
    "Tent",
    "Foreløbig: Netværksmøde: Hvad siger brugerne?",
    "Jeg skal lige have vagtplanen på plads.",
    ("soren.aero@vordingborg.example", "Søren Ærø"),
    datetime(2026, 11, 28, 7, 45, tzinfo=UTC),
    0,
)
