"""Deciding, per member, what a run sends: a first invitation, an update, a cancellation, or nothing.

The journal says what each member was last sent; the plan is pure data and sends nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from mailer.addresses import address_key
from mailer.config import Settings
from mailer.current import CurrentMeeting, current_meetings, sequence_for, told_cancelled
from mailer.errors import ConfigError, MailerError
from mailer.journal import Journal, MeetingState
from mailer.meetings import Meeting
from mailer.outcomes import DeliveryRecord
from mailer.recipients import Member
from mailer.templates import MessageTemplate
from mailer.words import long_datetime

Method = Literal["REQUEST", "CANCEL"]
Kind = Literal["new", "update", "cancel", "message"]


@dataclass(frozen=True)
class Campaign:
    """One template sent for one purpose; its key is what the journal counts by."""

    key: str
    template: MessageTemplate
    meeting: Meeting | None = None
    method: Method | None = None
    sequence: int = 0
    uid: str = ""
    resend: bool = False  # sent again on purpose: a new Message-ID, so no client drops it
    fingerprint: str = field(init=False)  # of the meeting as members will be told it
    version: str = field(init=False)  # what counts as 'the same message' for a member

    def __post_init__(self) -> None:
        fingerprint = self.meeting.fingerprint() if self.meeting else ""
        object.__setattr__(self, "fingerprint", fingerprint)
        object.__setattr__(self, "version", f"{self.sequence}:{fingerprint}" if self.method else "0")

    def state(self) -> MeetingState | None:
        if self.meeting is None or self.method is None:
            return None
        return MeetingState(
            self.meeting.id, self.uid, self.sequence, self.fingerprint, self.meeting.snapshot()
        )


@dataclass(frozen=True)
class Delivery:
    """One message the run will build and send."""

    member: Member
    campaign: Campaign
    kind: Kind
    previous: dict[str, Any] | None = None  # what the member was last told of the meeting


@dataclass(frozen=True)
class Plan:
    """Everything a run will do, before it does it."""

    deliveries: tuple[Delivery, ...]
    campaigns: tuple[Campaign, ...]
    skipped: tuple[Member, ...] = ()  # already have this very message
    removed: tuple[DeliveryRecord, ...] = ()  # invited, since taken off the list, not cancelled
    suppressed: tuple[Member, ...] = ()  # unsubscribed
    bouncing: tuple[Member, ...] = ()  # their address bounced; left out until put back
    meetings: tuple[CurrentMeeting, ...] | None = None  # every meeting as it stands, for the texts

    @property
    def campaign(self) -> Campaign:
        return self.campaigns[0]

    def meeting_state(self) -> MeetingState | None:
        """What members are being told of the meeting, with the highest SEQUENCE this run sends
        (a member cancelled or re-invited may need one above the meeting's)."""
        state = self.campaign.state()
        if state is None:
            return None
        sent = [d.campaign.sequence for d in self.deliveries if d.campaign.uid == self.campaign.uid]
        return replace(state, sequence=max([state.sequence, *sent]))


# A campaign key is a name, never a path: it names the outbox's folder for the campaign.
CAMPAIGN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


def campaign_key(template: str, meeting_id: str | None, given: str | None) -> str:
    if given is not None and (not CAMPAIGN_NAME.fullmatch(given) or ".." in given):
        raise MailerError(
            f"{given!r} is not a campaign name: use up to 100 letters (a-z), digits and - _ . : "
            "starting with a letter or digit, e.g. --campaign newsletter-2027-03",
            field="--campaign",
        )
    return given or (f"{template}:{meeting_id}" if meeting_id else template)


def meeting_campaign(
    settings: Settings,
    journal: Journal,
    template: MessageTemplate,
    meeting: Meeting,
    key: str,
    method: Method | None,
) -> Campaign:
    """The campaign with the sequence members must get: +1 whenever the meeting changed."""
    state = journal.meeting(meeting.id)
    # The UID members' calendars hold stays the meeting's for life, whatever the sender now is.
    uid = state.uid if state is not None else meeting.uid(settings.sender.domain)
    if method is None:
        return Campaign(key, template, meeting, None, 0, uid)
    return Campaign(key, template, meeting, method, sequence_for(state, meeting), uid)


def plan_invitation(
    campaign: Campaign,
    members: Iterable[Member],
    journal: Journal,
    *,
    listed: set[str] | None,
    resend: bool = False,
) -> tuple[list[Delivery], list[Member], list[DeliveryRecord]]:
    """REQUEST to each member: new if never invited (or since cancelled), an update if told
    another version, nothing if their calendar already shows this one.

    Returns (deliveries, skipped, removed); `removed` are invited members whose address is
    not in `listed` (the whole member list; None when only part of it was chosen).
    """
    assert campaign.meeting is not None
    invited = journal.invited(campaign.meeting.id)
    deliveries: list[Delivery] = []
    skipped: list[Member] = []
    for member in members:
        last = invited.get(member.key)
        if last is None:
            deliveries.append(Delivery(member, campaign, "new"))
        elif last.method == "CANCEL":
            # A calendar ignores a REQUEST that is not newer than the CANCEL it holds.
            deliveries.append(Delivery(member, above(campaign, last), "new"))
        elif last.fingerprint == campaign.fingerprint:
            if resend:
                deliveries.append(Delivery(member, campaign, "new"))
            else:
                skipped.append(member)
        else:
            before = journal.snapshot(campaign.meeting.id, last.fingerprint or "")
            deliveries.append(Delivery(member, campaign, "update", before))
    removed: list[DeliveryRecord] = []
    if listed is not None:
        removed = [s for key, s in invited.items() if key not in listed and s.method == "REQUEST"]
    return deliveries, skipped, removed


def above(campaign: Campaign, last: DeliveryRecord) -> Campaign:
    """The campaign, with a SEQUENCE above what `last` gave the member if it is not already."""
    if last.sequence is None or campaign.sequence > last.sequence:
        return campaign
    return replace(campaign, sequence=last.sequence + 1)


def plan_cancellation(
    campaign: Campaign,
    journal: Journal,
    listed: Mapping[str, Member],
    *,
    only: Iterable[str] | None = None,
    resend: bool = False,
) -> tuple[list[Delivery], list[Member]]:
    """CANCEL to every member whose calendar holds the meeting, listed or not: a member still on
    the list (`listed`, by key) as the list has them (their library, their columns), one taken off
    it as the journal knows them."""
    assert campaign.meeting is not None
    chosen = set(only) if only is not None else None
    deliveries: list[Delivery] = []
    skipped: list[Member] = []
    for key, last in journal.invited(campaign.meeting.id).items():
        if chosen is not None and key not in chosen:
            continue
        member = listed.get(key) or member_from_journal(last)
        if last.method == "CANCEL" and not resend:
            skipped.append(member)
        else:
            deliveries.append(Delivery(member, above(campaign, last), "cancel"))
    return deliveries, skipped


def plan_messages(
    campaign: Campaign, members: Iterable[Member], journal: Journal, *, resend: bool = False
) -> tuple[list[Delivery], list[Member]]:
    """A plain message (newsletter, reminder): once per member per campaign."""
    sent = journal.sent_versions(campaign.key)
    deliveries: list[Delivery] = []
    skipped: list[Member] = []
    for member in members:
        if campaign.version in sent.get(member.key, ()) and not resend:
            skipped.append(member)
        else:
            deliveries.append(Delivery(member, campaign, "message"))
    return deliveries, skipped


def member_from_journal(row: DeliveryRecord) -> Member:
    """A member known only from what was sent to them (no longer on the list: no `lines`)."""
    return Member(email=row.email, name=row.name, language=row.language or "da", lines=())


def require_meeting(settings: Settings, meeting_id: str | None, template: MessageTemplate) -> Meeting | None:
    if meeting_id is None:
        if template.settings.calendar in ("request", "cancel"):
            raise ConfigError(
                f"template {template.name!r} makes an invitation: name the meeting with --meeting",
                path=settings.path,
            )
        return None
    return settings.meeting(meeting_id)


@dataclass(frozen=True)
class Selection:
    """What the coordinator asked for on the command line."""

    template: str
    meeting_id: str | None = None
    group: str | None = None
    only: str | None = None
    campaign: str | None = None
    resend: bool = False
    cancel_removed: bool = False
    cancel: bool = False  # `mailer cancel`: the meeting is off, whatever config says
    reinstate: bool = False  # invite again to a meeting members were told is cancelled


CALENDAR_METHOD: dict[str, Method] = {"request": "REQUEST", "cancel": "CANCEL"}


def plan_run(
    settings: Settings,
    journal: Journal,
    members: Iterable[Member],
    suppressed: set[str],
    selection: Selection,
    *,
    rows_left_out: int = 0,
    bouncing: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Plan:
    """Everything the run will send, from the config, the member list and the journal.

    `rows_left_out`: invalid rows skipped from the list (their members cannot be told apart
    from members taken off it, so nobody is cancelled for being missing). `bouncing`: addresses
    that bounced, left out like the unsubscribed ones but reported apart. `now`: an invitation
    or reminder to a meeting already over at `now` is refused.
    """
    unsubscribed = suppressed
    suppressed = suppressed | bouncing
    folder = settings.resolve(settings.files.templates)
    language = settings.sender.language
    template = MessageTemplate(folder, selection.template, language, plain=settings.plain)
    if selection.cancel and selection.meeting_id not in {m.id for m in settings.meetings}:
        meeting: Meeting | None = _meeting_from_journal(journal, selection.meeting_id, settings)
    else:
        meeting = require_meeting(settings, selection.meeting_id, template)
    if meeting is not None and (selection.cancel or template.settings.calendar == "cancel"):
        meeting = meeting.model_copy(update={"status": "cancelled"})
    if meeting is not None and meeting.cancelled and template.settings.calendar == "request":
        template = MessageTemplate(
            folder, template.settings.on_cancel or "cancellation", language, plain=settings.plain
        )
    if meeting is not None:
        _refuse_what_members_cannot_use(settings, journal, meeting, template, now)
    method = CALENDAR_METHOD.get(template.settings.calendar)
    key = campaign_key(template.name, meeting.id if meeting else None, selection.campaign)
    campaign = (
        meeting_campaign(settings, journal, template, meeting, key, method)
        if meeting is not None
        else Campaign(key, template)
    )
    if selection.resend:
        campaign = replace(campaign, resend=True)
    if method == "REQUEST" and meeting is not None and not selection.reinstate:
        _refuse_silent_reinstatement(journal, meeting, settings)
    everyone = list(members)
    chosen = _choose(everyone, selection)
    wanted = [m for m in chosen if m.key not in suppressed]
    left_out = tuple(m for m in chosen if m.key in suppressed)
    campaigns = [campaign]
    removed: list[DeliveryRecord] = []
    if method == "REQUEST":
        whole_list = not (selection.group or selection.only)
        deliveries, skipped, removed = plan_invitation(
            campaign,
            wanted,
            journal,
            listed={m.key for m in everyone} if whole_list else None,
            resend=selection.resend,
        )
        if selection.cancel_removed and removed:
            if rows_left_out:
                raise ConfigError(
                    f"--cancel-removed needs the whole member list, and {rows_left_out} rows were "
                    "left out as invalid: fix them first",
                    field="--cancel-removed",
                )
            assert meeting is not None
            dropped = Campaign(
                campaign_key("cancellation", meeting.id, None),
                MessageTemplate(
                    folder, template.settings.on_cancel or "cancellation", language, plain=settings.plain
                ),
                meeting.model_copy(update={"status": "cancelled"}),
                "CANCEL",
                campaign.sequence,
                campaign.uid,
            )
            campaigns.append(dropped)
            for row in removed:
                member = member_from_journal(row)
                if member.key in suppressed:
                    left_out += (member,)
                else:
                    deliveries.append(Delivery(member, above(dropped, row), "cancel"))
            removed = []
    elif method == "CANCEL":
        narrowed = None if not (selection.group or selection.only) else {m.key for m in chosen}
        deliveries, skipped = plan_cancellation(
            campaign, journal, {m.key: m for m in everyone}, only=narrowed, resend=selection.resend
        )
        left_out = tuple(d.member for d in deliveries if d.member.key in suppressed)
        deliveries = [d for d in deliveries if d.member.key not in suppressed]
    else:
        if template.settings.audience == "attending":
            wanted = _attending(wanted, journal, meeting)
        deliveries, skipped = plan_messages(campaign, wanted, journal, resend=selection.resend)
    return Plan(
        tuple(deliveries),
        tuple(campaigns),
        tuple(skipped),
        tuple(removed),
        tuple(m for m in left_out if m.key in unsubscribed),
        tuple(m for m in left_out if m.key not in unsubscribed),
        tuple(current_meetings(settings, journal)),
    )


def _meeting_from_journal(journal: Journal, meeting_id: str | None, settings: Settings) -> Meeting:
    """A meeting already taken out of config.toml, as members were last told it: it can
    still be cancelled in their calendars."""
    state = journal.meeting(meeting_id) if meeting_id else None
    if state is None:
        return settings.meeting(meeting_id or "")  # the usual "no meeting" error
    return Meeting(id=state.meeting_id, **state.snapshot)


def _refuse_what_members_cannot_use(
    settings: Settings, journal: Journal, meeting: Meeting, template: MessageTemplate, now: datetime | None
) -> None:
    """No message about a cancelled meeting other than its cancellation; no invitation or
    reminder to a meeting already over."""
    if template.settings.calendar == "none" and (
        meeting.cancelled or told_cancelled(journal.meeting(meeting.id))
    ):
        raise ConfigError(f"meeting {meeting.id!r} is cancelled", path=settings.path, field="status")
    inviting = template.settings.calendar == "request" or template.settings.audience == "attending"
    if inviting and now is not None and meeting.ends <= now and not meeting.cancelled:
        ended = long_datetime(meeting.ends, settings.sender.language)
        raise ConfigError(
            f"the meeting is over (it ended {ended}); nothing was sent. "
            "Give it a new date in config.toml, or send something else",
            path=settings.path,
            field=f"meeting {meeting.id}, end",
        )


def _refuse_silent_reinstatement(journal: Journal, meeting: Meeting, settings: Settings) -> None:
    """A meeting members were told is cancelled comes back only when the coordinator says so."""
    state = journal.meeting(meeting.id)
    if state is not None and state.snapshot.get("status") == "cancelled":
        raise ConfigError(
            f"meeting {meeting.id!r} was cancelled in members' calendars; set status = "
            '"cancelled" in config.toml, or add --reinstate to invite everyone to it again',
            path=settings.path,
            field="status",
        )


def _choose(members: list[Member], selection: Selection) -> list[Member]:
    chosen = members
    if selection.group:
        wanted = selection.group.strip().casefold()
        chosen = [m for m in chosen if wanted in (g.casefold() for g in m.groups)]
        if not chosen:
            raise ConfigError(_no_such_group(selection.group, members), field="--group")
    if selection.only:
        key = address_key(selection.only)
        chosen = [m for m in chosen if m.key == key]
        if not chosen:
            raise ConfigError(f"{selection.only!r} is not in the member list", field="--only")
    return chosen


def _no_such_group(group: str, members: list[Member]) -> str:
    """Why nobody is chosen: no member is in `group`; the list's groups, the likeliest meant first."""
    groups = list(dict.fromkeys(g for m in members for g in m.groups))
    if not groups:
        return f"no member is in the group {group!r}: the member list has no groups (a column Grupper)"
    folded = {g.casefold(): g for g in groups}
    close = [
        folded[g]
        for g in difflib.get_close_matches(group.strip().casefold(), folded, n=len(folded), cutoff=0.5)
    ]
    ordered = close + sorted((g for g in groups if g not in close), key=str.casefold)
    return f"no member is in the group {group!r}; the groups on the list are: {', '.join(ordered)}"


def _attending(members: list[Member], journal: Journal, meeting: Meeting | None) -> list[Member]:
    """Invited members who accepted or have not answered; never those who declined."""
    if meeting is None:
        raise ConfigError("this template is about a meeting: name it with --meeting")
    invited = journal.invited(meeting.id)
    answers = journal.answers(meeting.id)
    return [
        m
        for m in members
        if m.key in invited
        and invited[m.key].method == "REQUEST"
        and (answers[m.key].partstat if m.key in answers else "") != "DECLINED"
    ]
