"""The meeting model: what a meeting is, its identity, fingerprint and changes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The fields whose change members must hear about (RFC 5546 3.2.2: raise SEQUENCE).
SIGNIFICANT = ("title", "start", "end", "timezone", "location", "description", "agenda", "status")


class Meeting(BaseModel):
    """One meeting as the coordinator writes it in config.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str
    start: datetime
    end: datetime
    timezone: str = "Europe/Copenhagen"
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

    @model_validator(mode="after")
    def _local_times(self) -> Meeting:
        zone = ZoneInfo(self.timezone)
        start = _in_zone(self.start, zone)
        end = _in_zone(self.end, zone)
        if end <= start:
            raise ValueError("end must be after start")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        return self

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    def uid(self, domain: str) -> str:
        """Stable for the life of the meeting: the same UID moves and cancels it."""
        return f"{self.id}@{domain}"

    def snapshot(self) -> dict[str, Any]:
        """What members were told, as plain JSON data (kept in the journal)."""
        return {
            "title": self.title,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
            "location": self.location,
            "description": self.description,
            "agenda": list(self.agenda),
            "status": self.status,
        }

    def fingerprint(self) -> str:
        """Changes exactly when something members see changes."""
        text = json.dumps(self.snapshot(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive times are local times in the meeting's zone; aware ones are converted to it."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def changed_fields(before: dict[str, Any] | None, meeting: Meeting) -> list[str]:
    """The significant fields that differ from what members were last told."""
    if not before:
        return []
    now = meeting.snapshot()
    return [name for name in SIGNIFICANT if before.get(name) != now.get(name)]


def upcoming_meetings(meetings: Iterable[Meeting], now: datetime) -> list[Meeting]:
    """Meetings not yet over and not cancelled, soonest first."""
    return sorted((m for m in meetings if not m.cancelled and m.end > now), key=lambda m: m.start)
