"""`mailer check`: everything validated up front (config, every row, every meeting, every
template against every member), reported in a few lines, nothing sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailer.calendar import MeetingEvent, Person
from mailer.compose import Composer
from mailer.config import Settings
from mailer.current import CurrentMeeting, current_meeting
from mailer.errors import ConfigError, MailerError
from mailer.journal import Journal
from mailer.meetings import Meeting
from mailer.plan import CALENDAR_METHOD, Campaign, Delivery
from mailer.recipients import Duplicate, Member, read_members, read_suppressed
from mailer.signin import SmtpSignIn, mailbox_signin
from mailer.templates import MessageTemplate, available_templates
from mailer.words import count, long_datetime, summary


@dataclass(frozen=True)
class MeetingWarning:
    """Something about a meeting worth a look: `kind` is cancelled-elsewhere, changed or over."""

    kind: str
    meeting: Meeting
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Report:
    """What `check` found; `problems` make it fail."""

    members: int = 0
    duplicates: list[Duplicate] = field(default_factory=list)
    invalid: list[MailerError] = field(default_factory=list)
    suppressed: int = 0
    meetings: list[str] = field(default_factory=list)
    warnings: list[MeetingWarning] = field(default_factory=list)  # worth a look; they do not make it fail
    templates: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # each file, where it really is
    signin: str = ""
    mailbox_signin: str = ""  # how `mailer inbox --imap` signs in
    problems: list[MailerError] = field(default_factory=list)

    skip_invalid: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and (self.skip_invalid or not self.invalid)


def check(
    settings: Settings, *, now: datetime, skip_invalid: bool = False, try_signin: bool = False
) -> Report:
    report = Report(skip_invalid=skip_invalid)
    members = read_members(settings.resolve(settings.files.recipients), settings.sender.language)
    report.members = len(members.members)
    report.duplicates = list(members.duplicates)
    report.invalid = list(members.invalid)
    suppressed = read_suppressed(settings.resolve(settings.files.unsubscribed))
    report.suppressed = sum(1 for m in members.members if m.key in suppressed)
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        # (a journal that cannot be opened is a problem before any run)
        meetings = [current_meeting(settings, journal, m.id) for m in settings.meetings]
    for current in meetings:
        _check_meeting(current, settings, now, report)
    composer = Composer(settings, now=now, meetings=meetings)
    folder = settings.resolve(settings.files.templates)
    names = available_templates(folder)
    if not names:
        report.problems.append(ConfigError("no templates", path=folder))
    for name in names:
        try:
            template = MessageTemplate(folder, name, settings.sender.language, plain=settings.plain)
            report.templates.append(_check_template(composer, template, members.members, settings, report))
        except MailerError as err:
            report.templates.append(f"{name}: FAILED (the error is below)")
            report.problems.append(err)
    signin = SmtpSignIn(settings)
    report.signin = signin.describe()
    report.mailbox_signin = mailbox_signin(settings)
    if try_signin and settings.imap.host:
        from mailer.mailboxes import try_mailbox  # imaplib only when asked to sign in

        try:
            report.mailbox_signin += f" ({try_mailbox(settings)})"
        except MailerError as err:
            report.problems.append(err)
    if try_signin:
        try:
            report.signin += f"; {_sign_in_now(settings, signin)}"
        except MailerError as err:
            report.problems.append(err)
    return report


def _sign_in_now(settings: Settings, signin: SmtpSignIn) -> str:
    """Sign in to the server as `send` would (EHLO, STARTTLS, AUTH, QUIT; nothing sent) and say
    how it went in plain words; a failure is raised with what to do."""
    import asyncio

    from mailer.errors import AuthenticationError
    from mailer.transport.smtp import SmtpTransport

    smtp = settings.smtp
    if signin.method != "none":
        signin.secret()  # no password or token: said before any server is asked
    try:
        asyncio.run(SmtpTransport(smtp, signin).sign_in_only())
    except AuthenticationError as err:
        raise AuthenticationError(
            f"{err.message}. {signin.when_refused()}", code=err.code, reply=err.reply
        ) from err
    if signin.method == "none":
        return f"{smtp.host}:{smtp.port} answered (no sign-in); nothing was sent"
    took = "the password is right" if signin.method == "password" else "the sign-in works"
    return f"signed in to {smtp.host} just now: {took}; nothing was sent"


def _check_meeting(current: CurrentMeeting, settings: Settings, now: datetime, report: Report) -> None:
    """The meeting as members know it now, what to look at, and whether its calendar builds."""
    meeting, language = current.meeting, settings.sender.language
    report.meetings.append(f"{meeting.id}: {summary(meeting, language)}")
    if current.cancelled_elsewhere:
        said = current.configured.status if current.configured else ""
        text = (
            f"meeting {meeting.id} was cancelled with `mailer cancel`, but config.toml still says "
            f'status = "{said}": write status = "cancelled" there'
        )
        report.warnings.append(MeetingWarning("cancelled-elsewhere", meeting, text))
    elif current.changed_since_told and not meeting.cancelled:
        text = (
            f"meeting {meeting.id} changed since members were invited: send the invitation "
            f"again to update their calendars (mailer send invitation --meeting {meeting.id})"
        )
        report.warnings.append(MeetingWarning("changed", meeting, text))
    if current.over(now):
        text = (
            f"meeting {meeting.id} is over (it ended {long_datetime(meeting.ends, language)}): "
            "nobody can be invited to it or reminded of it"
        )
        report.warnings.append(MeetingWarning("over", meeting, text))
    try:  # the calendar must build, whatever the members
        organizer = Person(settings.sender.address)
        MeetingEvent(meeting, current.uid, current.sequence, now, "REQUEST", organizer, language).calendar(
            organizer
        )
    except ValueError as err:
        report.problems.append(
            ConfigError(f"calendar cannot be built: {err}", path=settings.path, field=meeting.id)
        )


def _check_template(
    composer: Composer,
    template: MessageTemplate,
    members: tuple[Member, ...],
    settings: Settings,
    report: Report,
) -> str:
    """Render `template` for every member (and every meeting, if it is about one); its
    attachments go into the report."""
    kind = template.settings.calendar
    meetings = (
        list(settings.meetings)
        if kind in ("request", "cancel") or template.settings.audience == "attending"
        else [None]
    )
    if not meetings:
        return f"{template.name}: not rendered (it needs a meeting and none is configured)"
    for meeting in meetings:
        method = CALENDAR_METHOD.get(kind)
        uid = meeting.uid(settings.sender.domain) if meeting else ""
        campaign = Campaign(template.name, template, meeting, method, 0, uid)
        about = f"{template.name}:{meeting.id}" if meeting else template.name
        for file in composer.attachment_files(campaign):
            report.attachments.append(f"{about}: {file.describe()}")
        composer.check([Delivery(member, campaign, "new") for member in members])
    languages = "/".join(template.languages)
    about = f" × {count(len(meetings), 'meeting')}" if meetings != [None] else ""
    return f"{template.name} ({languages}, {kind}): rendered for {count(len(members), 'member')}{about}"
