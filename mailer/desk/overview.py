"""The overview: the coming meetings with who is coming, what needs the coordinator, and the last
runs, read with the same code as `mailer status`, `check` and `send`'s plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from mailer.attendance import STATE_WORDS, attendance
from mailer.bounces import bouncing
from mailer.config import Settings
from mailer.current import CurrentMeeting, current_meetings
from mailer.desk.sending import CANCEL, cut_off
from mailer.desk.words import campaign_words, counted, words
from mailer.errors import MailerError
from mailer.journal import Journal
from mailer.plan import Selection
from mailer.run import Inputs, load_inputs, make_plan
from mailer.status import zone_of
from mailer.words import long_local_time, status_word, when


@dataclass(frozen=True)
class ComingMeeting:
    """One coming meeting as the overview shows it."""

    id: str
    title: str
    when: str
    location: str
    status: str  # in the coordinator's words
    cancelled: bool
    invited: int
    totals: list[tuple[str, str, int]]  # (state, its word, how many), as the status page shows them


@dataclass(frozen=True)
class Run:
    campaign: str
    named: str  # in her words: 'Påmindelse: Netværksmøde: Samskabelse'
    sent: int
    failed: int
    last: str  # in words, on the meeting's clock


@dataclass(frozen=True)
class Need:
    """Something that needs the coordinator, with the button that does it (if there is one)."""

    text: str
    href: str = ""
    action: str = ""

    def __str__(self) -> str:
        return self.text


@dataclass
class Overview:
    meetings: list[ComingMeeting] = field(default_factory=list)
    needs: list[Need] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)


def overview(settings: Settings, now: datetime, *, last_runs: int = 8) -> Overview:
    language = settings.sender.language
    found = Overview()
    inputs = load_inputs(settings, skip_invalid=True)
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        for current in current_meetings(settings, journal):
            if current.over(now):
                continue
            found.meetings.append(coming_meeting(current, journal, settings))
            found.needs += [
                n if isinstance(n, Need) else Need(n) for n in _meeting_needs(current, inputs, journal, now)
            ]
        found.needs += _cut_off(inputs, journal, now)
        to_read = len(journal.replies_to_read())
        bounced = len(bouncing(journal))
        totals = sorted(journal.campaign_totals(), key=lambda t: t.last, reverse=True)[:last_runs]
        titles = {m.id: m.title for m in settings.meetings}
        for t in totals:
            zone = zone_of(settings, journal, t.meeting_id)
            named = campaign_words(t.campaign, titles, language)
            found.runs.append(
                Run(t.campaign, named, t.sent, t.failed, long_local_time(t.last, zone, language))
            )
    if to_read:
        found.needs.append(Need(counted(language, "to_read", to_read)))
    if bounced:
        found.needs.append(Need(counted(language, "bouncing_n", bounced)))
    if inputs.members.invalid:
        found.needs.append(Need(counted(language, "invalid_n", len(inputs.members.invalid))))
    return found


def coming_meeting(current: CurrentMeeting, journal: Journal, settings: Settings) -> ComingMeeting:
    """The meeting as members know it now, and who is coming."""
    language = settings.sender.language
    meeting = current.meeting
    counts = attendance(journal, settings, meeting.id).totals
    state_words = STATE_WORDS[language]
    invited = sum(n for state, n in counts.items() if state != "NOT DELIVERED")
    shown = [state for state, n in counts.items() if n or (invited and state != "CANCELLED")]
    return ComingMeeting(
        id=meeting.id,
        title=meeting.title,
        when=when(meeting, language),
        location=meeting.location or words(language)["no_place"],
        status=status_word(meeting.status, language),
        cancelled=meeting.cancelled,
        invited=invited,
        totals=[(state, state_words[state], counts[state]) for state in shown],
    )


def _cut_off(inputs: Inputs, journal: Journal, now: datetime) -> list[Need]:
    """Sends the desk started that were cut off (the desk closed under way) and still have
    members to reach: how far each got, and the button to the summary of the rest."""
    w = words(inputs.settings.sender.language)
    sent = {t.campaign: t.sent for t in journal.campaign_totals()}
    found = []
    for choice in cut_off(inputs.settings):
        try:
            plan = make_plan(inputs, journal, choice.selection, now=now)
        except MailerError:
            continue  # cannot be sent as it was chosen (the meeting is over, say): nothing to finish
        key = plan.campaign.key
        rest = [d for d in plan.deliveries if d.kind != "update"]  # an update is another send's
        if rest:
            done = sent.get(key, 0)
            text = w["cut_off"].format(campaign=key, sent=done, total=done + len(rest))
            found.append(Need(text, "/send?" + urlencode(choice.as_form()), w["send_rest"]))
    return found


def cancellation_due(current: CurrentMeeting, inputs: Inputs, journal: Journal, now: datetime) -> Need | None:
    """A meeting cancelled in config.toml that members still have in their calendars: the
    cancellations `mailer cancel ID` would send now, and the button to its summary."""
    meeting = current.meeting
    if not meeting.cancelled or current.configured is None or current.told is None:
        return None
    language = inputs.settings.sender.language
    w = words(language)
    selection = Selection("invitation", meeting.id, cancel=True)
    try:
        plan = make_plan(inputs, journal, selection, now=now)
    except MailerError as err:
        return Need(w["plan_failed"].format(title=meeting.title, problem=err))
    due = sum(1 for d in plan.deliveries if d.kind == "cancel")
    if not due:
        return None
    text = w["cancel_due"].format(title=meeting.title, members=counted(language, "member_n", due))
    return Need(text, "/send?" + urlencode({"template": CANCEL, "meeting": meeting.id}), w["send_cancel"])


def _meeting_needs(
    current: CurrentMeeting, inputs: Inputs, journal: Journal, now: datetime
) -> list[str | Need]:
    """What `send invitation --meeting ID` would do now, in the coordinator's words."""
    language = inputs.settings.sender.language
    w = words(language)
    meeting = current.meeting
    title = meeting.title
    if current.cancelled_elsewhere:
        return [w["cancelled_elsewhere"].format(title=title)]
    if meeting.cancelled:
        due = cancellation_due(current, inputs, journal, now)
        return [due] if due else []
    if current.configured is None:
        return []
    try:
        plan = make_plan(inputs, journal, Selection("invitation", meeting.id), now=now)
    except MailerError as err:
        return [w["plan_failed"].format(title=title, problem=err)]
    needs: list[str | Need] = []
    new = sum(1 for d in plan.deliveries if d.kind == "new")
    updates = sum(1 for d in plan.deliveries if d.kind == "update")
    if current.told is None:
        needs.append(w["never_invited"].format(title=title))
    elif new:
        needs.append(counted(language, "not_invited", new, title=title))
    if updates:
        needs.append(w["update_due"].format(title=title))
    if plan.removed:
        needs.append(counted(language, "removed", len(plan.removed), title=title))
    return needs
