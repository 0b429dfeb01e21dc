"""Outlook's own .msg files as RFC 5322 bytes, read with extract-msg.

A member's answer that arrived in Outlook is kept there as a meeting response item: no calendar
attached, the answer in its message class (`IPM.Schedule.Meeting.Resp.Pos`, `.Neg`, `.Tent`;
MS-OXOCAL 2.2.6) and the meeting in MAPI properties. Such a file is given the iMIP REPLY it
stands for (RFC 6047), built from those properties, so it counts like any calendar answer.
"""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from mailer.errors import ReplyError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: Outlook's .msg
# MS-OXCICAL 2.1.3.1.1.20.26: a meeting that came from an iCalendar UID keeps it in its global
# object id after this marker; an id without it is written as the UID in hexadecimal.
VCAL_UID = b"vCal-Uid\x01\x00\x00\x00"
PARTSTAT = {"pos": "ACCEPTED", "neg": "DECLINED", "tent": "TENTATIVE"}


def outlook_message(path: Path) -> bytes:
    """An Outlook .msg file as RFC 5322 bytes (headers, bodies and attachments; a meeting
    response with the REPLY calendar it stands for)."""
    import extract_msg  # only when there is a .msg to read

    try:
        msg = extract_msg.openMsg(str(path), strict=False)
    except Exception as err:  # extract-msg raises many kinds for a damaged file
        raise ReplyError(f"cannot be read as an Outlook message: {err}", path=path) from err
    try:
        if not isinstance(msg, extract_msg.msg_classes.MessageBase):
            raise ReplyError(f"is an Outlook {type(msg).__name__.lower()}, not a message", path=path)
        converted = msg.asEmailMessage()
        subject = getattr(msg, "subject", None)
        if subject and "Subject" not in converted:  # built from MAPI properties, which lack it
            converted["Subject"] = subject
        if isinstance(msg, extract_msg.msg_classes.MeetingResponse):
            reply = meeting_response_reply(msg, path)
            converted.add_attachment(reply, subtype="calendar", params={"method": "REPLY"})
        return bytes(converted.as_bytes(policy=email.policy.SMTP))
    finally:
        msg.close()


def meeting_response_reply(msg: Any, path: Path) -> str:
    """The iMIP REPLY an Outlook meeting response (an extract-msg MeetingResponse) stands for."""
    from icalendar import Calendar, Event, vCalAddress

    from mailer.calendar import PRODID

    goid = msg.cleanGlobalObjectID or msg.globalObjectID
    if goid is None:
        raise ReplyError("an Outlook meeting answer that names no meeting (no global object id)", path=path)
    data = bytes(goid.data)
    uid = data[len(VCAL_UID) :].split(b"\x00")[0].decode("utf-8") if data.startswith(VCAL_UID) else ""
    uid = uid or bytes(goid).hex().upper()
    address = _sender_address(msg)
    if not address:
        raise ReplyError("an Outlook meeting answer without the sender's address", path=path)
    sent = msg.date if isinstance(msg.date, datetime) else None
    event = Event()
    event.add("UID", uid)
    event.add("DTSTAMP", (sent or datetime.now(UTC)).astimezone(UTC))
    if msg.appointmentSequence is not None:
        event.add("SEQUENCE", int(msg.appointmentSequence))
    attendee = vCalAddress(f"mailto:{address}")
    attendee.params["PARTSTAT"] = PARTSTAT[msg.responseType.value]
    event.add("ATTENDEE", attendee)
    comment = " ".join((msg.body or "").split())
    if comment:
        event.add("COMMENT", comment)
    if msg.subject:
        event.add("SUMMARY", msg.subject)
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "REPLY")
    calendar.add_component(event)
    return str(calendar.to_ical().decode("utf-8"))


def _sender_address(msg: Any) -> str:
    """The sender's SMTP address: an Exchange sender's own address is an X.500 one (type EX), so
    PidTagSenderSmtpAddress and PidTagSentRepresentingSmtpAddress come first."""
    for stream in ("__substg1.0_5D01", "__substg1.0_5D02"):
        value = msg.getStringStream(stream)
        if value and "@" in value:
            return str(value).strip().casefold()
    address = parseaddr(str(msg.sender or ""))[1]
    return address.casefold() if "@" in address else ""
