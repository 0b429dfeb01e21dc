"""How much and how fast a run may send: the mail service's limits on one mailbox (config.toml's
own where it sets them), what is left of today's from the journal, and how long a run takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mailer.config import SmtpSettings
from mailer.meetings import meeting_zone
from mailer.providers import GMAIL, GMAIL_OWN_DOMAINS, MICROSOFT_365
from mailer.words import count, local_time

DAY = timedelta(days=1)  # the day's limit counts what went out in the 24 hours before now

if TYPE_CHECKING:
    from mailer.journal import Journal


@dataclass(frozen=True)
class Limits:
    """Messages a minute and a day a run is held to, and what sets the day's."""

    per_minute: float | None
    per_day: int | None
    day_set_by: str  # "Microsoft 365", "config.toml (rate_per_day)"


def sending_limits(smtp: SmtpSettings) -> Limits:
    """The service's known limits (Exchange Online: 30 a minute, 10,000 a day; Gmail: 500 a day,
    2,000 with Google Workspace), each replaced by config.toml's rate_per_minute or rate_per_day
    where it sets one."""
    host = smtp.host.casefold()
    minute: float | None = None
    day: int | None = None
    service = ""
    if host == MICROSOFT_365.host:
        minute, day, service = 30, 10_000, "Microsoft 365"
    elif host == GMAIL.host:
        own = smtp.username.rpartition("@")[2].casefold() in GMAIL_OWN_DOMAINS
        day, service = (500 if own else 2_000), "Gmail"
    if smtp.rate_per_day is not None:
        day, service = smtp.rate_per_day, "config.toml (rate_per_day)"
    return Limits(smtp.rate_per_minute if smtp.rate_per_minute is not None else minute, day, service)


def per_minute(smtp: SmtpSettings) -> float | None:
    """The messages a minute a run is held to (the stricter of a minute's and an hour's limit)."""
    rates = [r for r in (sending_limits(smtp).per_minute, (smtp.rate_per_hour or 0) / 60) if r]
    return min(rates) if rates else None


def sent_today(journal: Journal, now: datetime) -> int:
    """Messages the server accepted in runs started in the 24 hours before `now`."""
    return journal.sent_since(_day_before(now))


def next_room(journal: Journal, now: datetime, sent: int, per_day: int) -> datetime:
    """When the day's limit next lets a message go, once this run has sent what it may (`sent`
    went out in the day before `now`): when the message that fills the day (counted oldest
    first; this run's, started `now`, if it is the first) is 24 hours old."""
    filling = max(0, sent - per_day)
    started = journal.sent_nth_since(_day_before(now), filling)
    return (datetime.fromisoformat(started) if started else now) + DAY


def _day_before(now: datetime) -> str:
    return (now - DAY).isoformat(timespec="seconds")


def next_minute(moment: datetime) -> datetime:
    """`moment` to the minute, rounded up, so that a time told to the minute is never too early."""
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment


def _coordinators_clock(moment: datetime) -> str:
    """'2026-11-26 23:45 (Europe/Copenhagen)': `moment` (to the minute) in the network's zone, as
    `status` writes times about no meeting."""
    zone = meeting_zone(None)
    return f"{local_time(next_minute(moment).isoformat(), zone)} ({zone.key})"


def duration(total: int, smtp: SmtpSettings) -> str:
    """How long `total` messages take at the rate limit, in words; "" without one."""
    rate = per_minute(smtp)
    if rate is None:
        return ""
    minutes = round(total / rate)
    if minutes < 1:
        took = "less than a minute"
    elif minutes < 90:
        took = f"about {count(minutes, 'minute')}"
    else:
        hours, rest = divmod(minutes, 60)
        took = f"about {count(hours, 'hour')}" + (f" {count(rest, 'minute')}" if rest else "")
    return f"at {rate:g} messages a minute this takes {took}"


@dataclass(frozen=True)
class Today:
    """What the day's limit leaves for a run of `total` messages."""

    per_day: int
    set_by: str  # as Limits.day_set_by
    sent: int  # accepted in the last 24 hours
    total: int
    next_at: datetime  # when the limit next lets a message go, once this run sent what it may

    @property
    def room(self) -> int:
        """Messages the limit allows before the next 24 hours."""
        return max(0, self.per_day - self.sent)

    @property
    def sends(self) -> int:
        """Of the run's messages, those that go now."""
        return min(self.total, self.room)

    @property
    def waiting(self) -> int:
        """Of the run's messages, those left for the same run again from `next_at`."""
        return self.total - self.sends


def today(smtp: SmtpSettings, journal: Journal, now: datetime, total: int) -> Today | None:
    """What the day's limit leaves for `total` messages; None without a day's limit."""
    day = sending_limits(smtp)
    if day.per_day is None:
        return None
    sent = sent_today(journal, now)
    return Today(day.per_day, day.day_set_by, sent, total, next_room(journal, now, sent, day.per_day))


def room_today(smtp: SmtpSettings, journal: Journal, now: datetime, total: int) -> tuple[int, str]:
    """How many of `total` messages this run may send within the day's limit, and what to tell
    the coordinator about it ("" without a day's limit)."""
    day = today(smtp, journal, now, total)
    if day is None:
        return total, ""
    if not day.waiting:
        return total, f"{day.set_by} allows {day.per_day:,} messages a day: {day.room:,} left today"
    said = (
        f"{day.set_by} allows {day.per_day:,} messages a day from one mailbox, and "
        f"{count(day.sent, 'message')} went out in the last 24 hours"
    )
    then = f"the next can go from {_coordinators_clock(day.next_at)}"
    if not day.sends:
        return 0, f"{said}: nothing is sent now; {then}: run the same command again then to send the {total}"
    return day.sends, (
        f"{said}: this run sends {day.sends} of the {total}; {then}: run the same command again then for "
        f"the other {day.waiting}"
    )
