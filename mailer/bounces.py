"""Bounces and delay warnings: delivery reports read with flufl.bounce (GNU Mailman's detectors
for RFC 3464 and the formats of Exchange, Postfix, Exim, qmail, Yahoo, GroupWise, ...), the
server's words and our message's Message-ID dug out of them, and which members are bouncing.

A bounce (a permanent failure) keeps the member out of later sends until the coordinator puts
them back (`mailer bounced --clear EMAIL`); a delay warning (the server is still trying) is
recorded and shown, never counted as a bounce.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

from mailer.addresses import address_key
from mailer.journal import Journal, Return

REPORT_SUBJECT = re.compile(
    r"undeliver|unzustellbar|non remis|delivery (status|failure|has failed|notification)|"
    r"returned mail|failure notice|mail delivery failed|delayed mail|could not be delivered|"
    r"kan ikke leveres|ikke leveret|ikke levert|warning: could not send",
    re.IGNORECASE,
)
DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon")
MESSAGE_ID = re.compile(r"^[ \t]*Message-ID:[ \t]*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
SMTP_WORDS = re.compile(r"\b[45]\d\d[ -]+(?:[245]\.\d{1,3}\.\d{1,3}\b)?.*")


@dataclass(frozen=True)
class Notice:
    """What a delivery report says about one address."""

    address: str  # as mailer compares it (`address_key`)
    permanent: bool  # False: a delay warning, the server is still trying
    reply: str  # the server's words
    message_id: str  # of our message, from the returned headers ('' when not returned)


def is_delivery_report(msg: Message) -> bool:
    """A report from a mail server rather than a person: flufl.bounce's detectors are heuristic,
    and are run only on what looks like one."""
    if msg.get_content_type() == "multipart/report":
        return True
    sender = parseaddr(str(msg.get("From", "")))[1].casefold()
    if sender.partition("@")[0] in DAEMONS or str(msg.get("Return-Path", "")).strip() == "<>":
        return True
    return bool(REPORT_SUBJECT.search(str(msg.get("Subject", ""))))


def delivery_notices(raw: bytes) -> list[Notice]:
    """What the delivery report in `raw` says failed or is delayed; [] when it is not one."""
    from flufl.bounce import all_failures

    msg = email.message_from_bytes(raw)  # flufl.bounce reads the compat32 model
    if not is_delivery_report(msg):
        return []
    temporary, permanent = all_failures(msg)
    if not temporary and not permanent:
        return []
    ours = _returned_message_id(msg)
    found: dict[str, Notice] = {}
    for addresses, failed in ((temporary, False), (permanent, True)):
        for item in addresses:
            written = item.decode("ascii", "replace").strip("<>").casefold()
            address = address_key(written)
            found[address] = Notice(address, failed, _server_words(msg, written), ours)
    return sorted(found.values(), key=lambda n: n.address)


def _returned_message_id(msg: Message) -> str:
    """Our Message-ID from the returned message or headers (RFC 3462 / 3464), else from a quoted
    copy in the text (qmail, Exim); '' when the report has none."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            inner = part.get_payload(0)
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return " ".join(str(inner["Message-ID"]).split())
        elif kind == "text/rfc822-headers":
            headers = email.message_from_string(_text(part))
            if headers.get("Message-ID"):
                return " ".join(str(headers["Message-ID"]).split())
    own = " ".join(str(msg.get("Message-ID", "")).split())
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            for found in MESSAGE_ID.findall(_text(part)):
                if found != own:
                    return str(found)
    return ""


def _server_words(msg: Message, address: str) -> str:
    """The receiving server's reason for `address`: the DSN's Diagnostic-Code (else its Status),
    else the first line with an SMTP reply code near the address in the report's text."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            recipients = f"{block.get('Final-Recipient', '')} {block.get('Original-Recipient', '')}"
            if address not in recipients.casefold():
                continue
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            if diagnostic:
                return _short(re.sub(r"^(smtp|x-postfix|x-unix);\s*", "", diagnostic, flags=re.IGNORECASE))
            status = str(block.get("Status", "")).strip()
            if status:
                return _short(f"{block.get('Action', '').strip()} {status}".strip())
    for part in msg.walk():
        if part.get_content_maintype() != "text" or part.get_content_subtype() == "rfc822-headers":
            continue
        lines = _text(part).splitlines()
        at = next((i for i, line in enumerate(lines) if address in line.casefold()), None)
        if at is None:
            continue
        for line in lines[at : at + 8]:
            words = SMTP_WORDS.search(line)
            if words:
                return _short(words.group(0))
        following = [line.strip() for line in lines[at + 1 : at + 4] if line.strip()]
        return _short(following[0] if following else lines[at].strip())
    return ""


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    found = part.get_payload()
    return found if isinstance(found, str) else ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def bouncing(journal: Journal) -> dict[str, Return]:
    """Members whose address bounced and who were not put back: their latest bounce each."""
    found: dict[str, Return] = {}
    for item in journal.returns():
        if item.kind == "bounce" and item.cleared_at is None:
            found[item.recipient] = item  # oldest first: the latest wins
    return found


def put_back(journal: Journal, address: str) -> Path | None:
    """`mailer bounced --clear`: a bouncing member gets messages again from the next send on.
    The journal's copy made first, or None when the address is not bouncing (nothing changed)."""
    key = address_key(address)
    if key not in bouncing(journal):
        return None
    copy = journal.back_up("clear")
    journal.clear_bounces(key)
    return copy
