"""The meeting model: what a meeting is, its identity, fingerprint and changes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

# The network's time zone: a meeting's unless it says otherwise, and that of what is about no meeting.
DEFAULT_ZONE = "Europe/Copenhagen"

# The fields whose change members must hear about (RFC 5546 3.2.2: raise SEQUENCE): what the
# invitation says, then the alarm in their calendars and the files it carries.
SIGNIFICANT: tuple[str, ...] = ("title", "start", "end", "timezone", "location", "description", "agenda")
SIGNIFICANT += ("status", "reminder", "attachments")


class Meeting(BaseModel):
    """One meeting as the coordinator writes it in config.toml.

    `start` and `end` are local times in `timezone`; for an all-day meeting (`all_day = true`)
    they are dates, `end` the last day (the first if left out).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str
    start: datetime | date
    end: datetime | date | None = None
    timezone: str = DEFAULT_ZONE
    all_day: bool = False
    location: str = ""
    description: str = ""
    agenda: tuple[str, ...] = ()
    status: Literal["tentative", "confirmed", "cancelled"] = "confirmed"
    reminder: timedelta | None = None
    attachments: tuple[Path, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _real_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"{value!r} is not an IANA time zone") from err
        return value

    @field_validator("title", "location")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must be one line")
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_or_time(cls, value: Any) -> Any:
        """ISO text (the environment, the journal's snapshots) read as TOML would: a date alone
        stays a date, so that it is refused or taken as a whole day, never as midnight."""
        if isinstance(value, date):
            return value
        text = value.strip() if isinstance(value, str) else ""
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise PydanticCustomError("datetime_parsing", "not a date and time") from None

    @model_validator(mode="after")
    def _local_times(self) -> Meeting:
        if self.all_day:
            return self._whole_days()
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"{name}: missing; write it as {name} = 2027-09-21T16:00:00")
            if not isinstance(value, datetime):
                raise ValueError(
                    f"{name}: {value.isoformat()} has no time of day; write it as "
                    f"{name} = {value.isoformat()}T13:00:00 (year-month-day, T, hours:minutes:seconds), "
                    "or add all_day = true for a meeting of whole days"
                )
        zone = ZoneInfo(self.timezone)
        assert isinstance(self.start, datetime) and isinstance(self.end, datetime)
        start = _in_zone(self.start, zone, "start")
        end = _in_zone(self.end, zone, "end")
        if end <= start:
            raise ValueError("end must be after start")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        return self

    def _whole_days(self) -> Meeting:
        if isinstance(self.start, datetime) or isinstance(self.end, datetime):
            name = "start" if isinstance(self.start, datetime) else "end"
            raise ValueError(
                f"{name}: an all-day meeting has dates without a time of day, e.g. "
                f"start = 2027-09-21 and end = 2027-09-22 (its last day)"
            )
        if self.end is not None and self.end < self.start:
            raise ValueError("end (the last day) must not be before start")
        return self

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def first_day(self) -> date:
        return self.start if not isinstance(self.start, datetime) else self.start.date()

    @property
    def dtstart(self) -> datetime | date:
        """DTSTART: the local start, or the first day of an all-day meeting."""
        return self.start

    @property
    def dtend(self) -> datetime | date:
        """DTEND: the local end, or for an all-day meeting the day after its last (RFC 5545
        3.6.1: a DATE end is not part of the event)."""
        if isinstance(self.end, datetime):
            return self.end
        return (self.end or self.start) + timedelta(days=1)

    @property
    def begins(self) -> datetime:
        """The moment it begins (midnight in its zone for an all-day meeting)."""
        return _moment(self.dtstart, self.timezone)

    @property
    def ends(self) -> datetime:
        """The moment it is over."""
        return _moment(self.dtend, self.timezone)

    def uid(self, domain: str) -> str:
        """Stable for the life of the meeting: the same UID moves and cancels it."""
        return f"{self.id}@{domain}"

    def snapshot(self) -> dict[str, Any]:
        """What members were told, as plain JSON data (kept in the journal)."""
        told: dict[str, Any] = {
            "title": self.title,
            "start": self.start.isoformat(),
            "end": (self.end or self.start).isoformat(),
            "timezone": self.timezone,
            "location": self.location,
            "description": self.description,
            "agenda": list(self.agenda),
            "status": self.status,
        }
        # Each only when set, so that the fingerprints of meetings without them stay as they were.
        if self.all_day:
            told["all_day"] = True
        if self.reminder is not None:  # the alarm in their calendars
            told["reminder"] = int(self.reminder.total_seconds())
        if self.attachments:  # the files their invitation carries
            told["attachments"] = [path.as_posix() for path in self.attachments]
        return told

    def fingerprint(self) -> str:
        """Changes exactly when something members see changes."""
        text = json.dumps(self.snapshot(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def meeting_zone(meeting: Meeting | None) -> ZoneInfo:
    """The zone every time about `meeting` is written in (its own); the network's for no meeting."""
    return ZoneInfo(meeting.timezone if meeting is not None else DEFAULT_ZONE)


def _moment(value: datetime | date, timezone: str) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), ZoneInfo(timezone))


def _in_zone(moment: datetime, zone: ZoneInfo, name: str) -> datetime:
    """Naive times are local times in the meeting's zone; aware ones are converted to it.

    A local time the zone skips (spring forward) or has twice (fall back) is refused: iCalendar
    leaves it to each client, and real clients pick another instant than Python does.
    """
    if moment.tzinfo is not None:
        return moment.astimezone(zone)
    early, late = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        written = moment.isoformat(timespec="minutes")
        there = f"in {zone.key}"
        if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
            why = f"does not exist {there} (the clocks are put forward past it that night)"
        else:
            why = f"happens twice {there} (the clocks are put back over it that night)"
        raise ValueError(
            f"{name}: {written} {why}; calendars do not agree which moment it is: choose another time"
        )
    return early


class Listing(NamedTuple):
    """A meeting as a published calendar carries it: its UID and the SEQUENCE members hold."""

    meeting: Meeting
    uid: str
    sequence: int


def changed_fields(before: dict[str, Any] | None, meeting: Meeting) -> list[str]:
    """The significant fields that differ from what members were last told."""
    if not before:
        return []
    now = meeting.snapshot()
    return [name for name in SIGNIFICANT if before.get(name) != now.get(name)]
