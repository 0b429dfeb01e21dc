"""A run from start to end: load and validate, plan, compose, then write to the outbox or send,
recording every accepted message in the journal as it goes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import make_msgid
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from mailer import forked
from mailer.addresses import NoAsciiForm, ascii_form
from mailer.bounces import bouncing
from mailer.calendar import test_uid
from mailer.compose import RUN_AGAIN, Composer
from mailer.config import Settings
from mailer.errors import MailerError
from mailer.journal import Journal, Return
from mailer.meetings import meeting_zone
from mailer.message import OutgoingMessage
from mailer.outcomes import DeliveryRecord
from mailer.plan import Campaign, Delivery, Plan, Selection, plan_run
from mailer.previewed import keep, previewed
from mailer.recipients import Member, MemberList, read_members, read_suppressed
from mailer.transport.outbox import Outbox

if TYPE_CHECKING:  # the SMTP side (aiosmtplib, asyncio) is imported by the commands that send
    from mailer.signin import SmtpSignIn
    from mailer.transport.smtp import Outcome, SmtpTransport


@dataclass(frozen=True)
class Inputs:
    """Everything a run reads, validated."""

    settings: Settings
    members: MemberList
    suppressed: frozenset[str]


def load_inputs(settings: Settings, *, skip_invalid: bool = False) -> Inputs:
    """Read the member list and suppression list; invalid rows stop the run unless skipped."""
    members = read_members(settings.resolve(settings.files.recipients), settings.sender.language)
    if not skip_invalid:
        members.require_valid()
    suppressed = read_suppressed(settings.resolve(settings.files.unsubscribed))
    return Inputs(settings, members, frozenset(suppressed))


def make_plan(inputs: Inputs, journal: Journal, selection: Selection, *, now: datetime | None = None) -> Plan:
    return plan_run(
        inputs.settings,
        journal,
        inputs.members.members,
        set(inputs.suppressed),
        selection,
        rows_left_out=len(inputs.members.invalid),
        bouncing=frozenset(bouncing(journal)),
        now=now,
    )


@dataclass(frozen=True)
class Preview:
    folder: Path
    index: Path
    plan: Plan
    count: int


def preview(
    inputs: Inputs, journal: Journal, selection: Selection, *, now: datetime, out: Path | None = None
) -> Preview:
    """Everything `send` does except the delivery: one .eml per message and a page listing them."""
    plan = make_plan(inputs, journal, selection, now=now)
    settings = inputs.settings
    composer = Composer(settings, now=now, meetings=plan.meetings)
    outbox = Outbox(
        out or settings.resolve(settings.files.outbox),
        plan.campaign.key,
        language=settings.sender.language,
        zone=meeting_zone(plan.campaign.meeting),
        plain=settings.plain,
    )
    for delivery, outgoing in composer.compose(plan.deliveries):
        outbox.write(delivery, outgoing)
    removed = [s.email for s in plan.removed]
    index = outbox.write_index(plan.campaign.key, now, skipped=len(plan.skipped), removed=removed)
    keep(previewed(plan, settings, selection, now), journal.path)  # for `send` to compare with
    return Preview(outbox.folder, index, plan, len(outbox.entries))


@dataclass
class SendReport:
    """What a send did; `failed` carries each server's reply."""

    sent: int = 0
    failed: list[Outcome[Delivery]] = field(default_factory=list)
    skipped: int = 0


def send(
    inputs: Inputs,
    journal: Journal,
    plan: Plan,
    *,
    now: datetime,
    limit: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    transport: SmtpTransport | None = None,
    signin: SmtpSignIn | None = None,
) -> SendReport:
    """Deliver the plan over SMTP, recording each accepted message as soon as the server accepts it."""
    import asyncio

    from mailer.signin import SmtpSignIn
    from mailer.transport.smtp import SmtpTransport

    settings = inputs.settings
    composer = Composer(settings, now=now, meetings=plan.meetings)
    deliveries = plan.deliveries[:limit] if limit is not None else plan.deliveries
    signin = signin or SmtpSignIn(settings)
    if transport is None and signin.method != "none":
        signin.secret()  # no password or token: stop before connecting, nothing sent
    transport = transport or SmtpTransport(settings.smtp, signin, plain=settings.plain)
    report = SendReport(skipped=len(plan.skipped))
    total = len(deliveries)

    at = now.isoformat(timespec="seconds")

    def record(outcome: Outcome[Delivery]) -> None:
        row = _row(outcome, at)
        journal.outcomes.append(row)
        if outcome.ok:
            report.sent += 1
        else:
            report.failed.append(outcome)
            if outcome.permanent:  # the address counts as bouncing, as a report of it would
                journal.record_return(
                    Return(row.recipient, "bounce", row.message_id, row.campaign, at, row.reply, f"smtp {at}")
                )
        if progress:
            progress(report.sent, len(report.failed), total)

    processes = forked.builder_processes(settings, total)
    with forked.Builders(composer.outgoing, plan.deliveries, processes) as builders:
        composer.check(plan.deliveries, processes)
        state = plan.meeting_state()
        if state is not None and deliveries:
            journal.record_meeting(state)
        try:
            with forked.stopped_unexpectedly("building messages", RUN_AGAIN):
                asyncio.run(transport.deliver(builders.results(total), record))
        finally:
            journal.outcomes.settle()
    return report


TEST_PREFIX = "[TEST] "
# Whom a test message is written to: made up, so that no member's name, address or columns go to
# the test address (a colleague, the host library).
TEST_NAME = "Test Testesen"
TEST_ORGANIZATION = {"da": "Testbiblioteket", "en": "Test Library"}


def send_test(
    inputs: Inputs, plan: Plan, to: str, *, now: datetime, transport: SmtpTransport | None = None
) -> OutgoingMessage:
    """The run's first message as a made-up member at `to` would get it (`test_delivery`),
    delivered to `to` only, marked as a test (in a header and in front of the subject); nothing
    is recorded.

    Every message is rendered first, as for the real run, so the test also says the run would
    go through. The test gets its own Message-ID: with the member's, a mailbox that has the
    test (the coordinator may be a member) could drop the real message as a duplicate.
    """
    import asyncio

    from mailer.signin import SmtpSignIn
    from mailer.transport.smtp import SmtpTransport

    if not plan.deliveries:
        raise MailerError("there is no message to test: every member already has it (try --resend)")
    settings = inputs.settings
    composer = Composer(settings, now=now, meetings=plan.meetings)
    composer.check(plan.deliveries)
    first, calendar = test_delivery(plan.deliveries[0], to)
    outgoing = composer.outgoing(first, subject_prefix=TEST_PREFIX, calendar_from=calendar)
    test_id = make_msgid("test", domain=outgoing.message_id.rpartition("@")[2].rstrip(">") or None)
    marked = replace(outgoing, message_id=test_id, data=_marked_test(outgoing.data, test_id))
    transport = transport or SmtpTransport(settings.smtp, SmtpSignIn(settings), plain=settings.plain)
    outcomes: list[Outcome[Delivery]] = []
    asyncio.run(transport.deliver(iter([(first, marked)]), outcomes.append))
    if not outcomes[0].ok:
        raise MailerError(f"the test message to {to} failed: {outcomes[0].code} {outcomes[0].reply}")
    return marked


def test_delivery(real: Delivery, to: str) -> tuple[Delivery, Campaign | None]:
    """The message `real` stands for, to a made-up member at `to` (the real member's language, and
    their columns each showing its own name, `[telefon]`), and the campaign its calendar is built
    from: the meeting with "[TEST] " in front of its title and a UID of its own, so that it is not
    the meeting in the tester's calendar and an answer to it is not recorded."""
    member = real.member
    language = member.language
    stand_in = Member(
        email=to,
        ascii_email=_ascii_or_empty(to),
        name=TEST_NAME,
        organization=TEST_ORGANIZATION.get(language, TEST_ORGANIZATION["en"]),
        language=language,
        groups=member.groups,
        fields=MappingProxyType({column: f"[{column}]" for column in member.fields}),
        explicit_language=member.explicit_language,
    )
    campaign = real.campaign
    calendar = None
    if campaign.meeting is not None and campaign.method is not None:
        title = TEST_PREFIX + campaign.meeting.title
        calendar = replace(
            campaign,
            key=f"{campaign.key} (test)",  # its calendar is not the one the real messages share
            meeting=campaign.meeting.model_copy(update={"title": title}),
            uid=test_uid(campaign.uid, secrets.token_hex(6)),
        )
    return replace(real, member=stand_in), calendar


def _ascii_or_empty(address: str) -> str:
    try:
        ascii_address = ascii_form(address)
    except NoAsciiForm:
        return ""
    return "" if ascii_address == address else ascii_address


def _marked_test(data: bytes, message_id: str) -> bytes:
    """The same bytes with a test header in front and the test's own Message-ID (the rest stays
    exactly as members get it)."""
    head, blank, body = data.partition(b"\r\n\r\n")
    head = re.sub(rb"(?im)^Message-ID:[^\r\n]*", b"Message-ID: " + message_id.encode("ascii"), head, count=1)
    return b"X-Mailer-Test: this is a test; members were not sent anything\r\n" + head + blank + body


def _row(outcome: Outcome[Delivery], at: str) -> DeliveryRecord:
    delivery = outcome.item
    campaign = delivery.campaign
    member = delivery.member
    return DeliveryRecord(
        campaign=campaign.key,
        recipient=member.key,
        email=member.email,
        name=member.name,
        language=member.language,
        version=campaign.version,
        message_id=outcome.outgoing.message_id,
        meeting_id=campaign.meeting.id if campaign.meeting else None,
        method=campaign.method,
        sequence=campaign.sequence if campaign.method else None,
        fingerprint=campaign.fingerprint or None,
        status="sent" if outcome.ok else "failed",
        code=outcome.code,
        # (a reply in no UTF-8 comes with lone surrogates, which neither log nor database takes)
        reply=outcome.reply.strip()[:500].encode("utf-8", "replace").decode(),
        attempts=outcome.attempts,
        at=at,
    )
