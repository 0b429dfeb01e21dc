"""Changes the desk makes to the coordinator's files: a meeting added or changed in config.toml
(with tomlkit, so her comments and layout stay), and a new member list in place of the old one
(the old kept as a dated copy). Each change is checked first as `mailer check` checks it, and
nothing is replaced when the check fails; an uploaded list with invalid rows, or one that leaves
out many members, replaces the old only when she says so."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import TypeAdapter, ValidationError
from tomlkit.items import AoT, Table

from mailer.check import MeetingWarning, Report, check
from mailer.config import Settings, config_text, load_settings
from mailer.errors import ConfigError, MailerError
from mailer.private import write_private
from mailer.recipients import Member, MemberList, read_members

FORM_FIELDS = (
    "title",
    "start",
    "end",
    "timezone",
    "location",
    "description",
    "agenda",
    "status",
    "reminder",
    "attachments",
)
OPTIONAL = ("end", "timezone", "location", "description", "agenda", "reminder", "attachments")
# The fields of the form an error can be shown at (besides the id and the whole meeting).
AT_FIELD = ("id", "all_day", "duration", *FORM_FIELDS)
SHEETS = (".csv", ".txt", ".xlsx", ".ods", ".xls")
DURATION = re.compile(r"(\d{1,3})(?::([0-5]\d))?")  # hours, or hours:minutes


@dataclass
class MeetingForm:
    """A meeting as the form gives it (text), read into what config.toml holds."""

    id: str
    values: dict[str, Any] = field(default_factory=dict)
    all_day: bool = False

    @classmethod
    def read(cls, form: Mapping[str, str]) -> MeetingForm:
        """The form read; a new meeting without an id gets one made from its day and title."""
        typed = form.get("id", "").strip()
        if typed and not MEETING_ID.fullmatch(typed):
            raise ConfigError(
                f"{typed!r} is not an id: use a-z, 0-9 and - (not æ, ø, å or spaces), e.g. {_slug(typed)}",
                field="id",
            )
        meeting_id = typed or "(new)"
        found = cls(meeting_id, all_day=form.get("all_day") == "on")
        for key in FORM_FIELDS:
            text = form.get(key, "").replace("\r\n", "\n").strip()
            if key in ("start", "end"):
                found.values[key] = _moment(text, key, found.all_day, meeting_id) if text else None
            elif key in ("agenda", "attachments"):
                found.values[key] = [line.strip() for line in text.splitlines() if line.strip()]
            elif key == "reminder" and text:
                found.values[key] = _reminder(text, meeting_id)
            else:
                found.values[key] = text
        if found.values["start"] is None:
            raise ConfigError("the meeting needs a start", field=f"meeting {meeting_id}, start")
        duration = form.get("duration", "").strip()
        if duration:
            found.values["end"] = _end_after(found, duration, found.values["end"])
        if not typed:
            title = _slug(found.values["title"])
            if not title:
                raise ConfigError(
                    "give the meeting a title (its id is made from the day and the title)", field="title"
                )
            found.id = f"{found.values['start'].isoformat()[:10]}-{title}"
        return found

    def only_offered(self, offered: list[str], settings: Settings) -> None:
        """Attachments are chosen from the files the form offers (or kept as config.toml has them):
        a path typed into the request is refused."""
        configured = next((m for m in settings.meetings if m.id == self.id), None)
        known = {*offered, *(str(path) for path in configured.attachments)} if configured else set(offered)
        for name in self.values["attachments"]:
            if name not in known:
                raise ConfigError(
                    f"{name!r} is not one of the files offered: put the file in the folder "
                    f"{settings.base_dir} and choose it from the list",
                    field=f"meeting {self.id}, attachments",
                )


MEETING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # as config.toml's meetings take it
DANISH_LETTERS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})


def _slug(text: str, longest: int = 40) -> str:
    """`text` as an id takes it: æ, ø, å written ae, oe, aa, other accents dropped, lower case,
    words joined by -, cut at a word under `longest` letters."""
    plain = unicodedata.normalize("NFKD", text.translate(DANISH_LETTERS)).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", plain.lower())
    slug = ""
    for word in words:
        if slug and len(slug) + 1 + len(word) > longest:
            break
        slug = f"{slug}-{word}" if slug else word[:longest]
    return slug


# A day as the form takes it: 2027-09-21 (ISO, as <input type=date> gives it) or 21.09.2027 /
# 21-09-2027 (as Danes write it); a time: 13:30 or 13.30 (as Danes write it), seconds only :00.
DAY = (
    r"(?:(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"|(?P<d>\d{1,2})(?P<sep>[.-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4}))"
)
CLOCK = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::00)?"
MOMENT = re.compile(rf"{DAY}(?:(?:T|\s+(?:kl\.?\s*)?){CLOCK})?", re.IGNORECASE)


def _moment(text: str, key: str, all_day: bool, meeting_id: str) -> date | datetime:
    """A start or end as she typed it, read strictly: 14.30 is half past two (never 14:00 and
    0.3 seconds, as an ISO reader takes it); what is not a day and a time is refused, not guessed."""
    found = MOMENT.fullmatch(text.strip())
    try:
        if found is None or (not all_day and found["hour"] is None):
            raise ValueError(text)
        day = date(
            int(found["year"] or found["y"]),
            int(found["month"] or found["m"]),
            int(found["day"] or found["d"]),
        )
        if all_day:
            return day
        return datetime.combine(day, time(int(found["hour"]), int(found["minute"])))
    except ValueError as err:
        form = "2027-09-21" if all_day else "2027-09-21T13:00 (or 2027-09-21 13.00)"
        raise ConfigError(
            f"{text!r} is not a {'date' if all_day else 'day and time'}: write it as {form}",
            field=f"meeting {meeting_id}, {key}",
        ) from err


def _reminder(text: str, meeting_id: str) -> str:
    """A reminder as config.toml writes it (an ISO 8601 duration: P1D, PT2H)."""
    try:
        TypeAdapter(timedelta).validate_python(text)
    except ValidationError as err:
        raise ConfigError(
            f"{text!r} is not a time before the meeting: write it as P1D (a day before), "
            "PT2H (two hours) or PT15M (15 minutes)",
            field=f"meeting {meeting_id}, reminder",
        ) from err
    return text


def _end_after(meeting: MeetingForm, written: str, end: date | datetime | None) -> datetime:
    """The end `written` as a duration (3, 2:30) after the start."""
    start = meeting.values["start"]
    place = f"meeting {meeting.id}, duration"
    found = DURATION.fullmatch(written)
    if meeting.all_day or not isinstance(start, datetime):
        raise ConfigError("an all-day meeting ends on a day: write its last day as its end", field=place)
    if found is None:
        raise ConfigError(f"{written!r} is not a duration: write hours:minutes, e.g. 2:30", field=place)
    ends = start + timedelta(hours=int(found.group(1)), minutes=int(found.group(2) or 0))
    if end is not None and end != ends:
        raise ConfigError(
            f"{written} after the start is {ends:%H:%M}, not the end {end:%H:%M}: give the end or "
            "the duration",
            field=place,
        )
    return ends


def field_at_fault(err: MailerError) -> str:
    """The form's field an error is about: named by its field (`meeting X, end`), by the
    message's first word ("end must be after start"), or an attachment; '' for the whole meeting."""
    for problem in getattr(err, "problems", None) or [err]:
        named = re.split(r"[,.]\s*", problem.field or "")[-1].strip()
        first = problem.message.split(" ", 1)[0].rstrip(":")
        for candidate in (named, first):
            if candidate in AT_FIELD:
                return candidate
        if "attachment" in problem.message:
            return "attachments"
    return ""


def attachment_choices(settings: Settings) -> list[str]:
    """The files in the project folder a meeting can attach (as config.toml writes them):
    everything but mailer's own files and folders and hidden ones."""
    base = settings.base_dir
    own = {settings.resolve(p).resolve() for p in (settings.files.recipients, settings.files.unsubscribed)}
    own.add(settings.path.resolve())
    skipped = {settings.resolve(p).resolve() for p in (settings.files.templates, settings.files.outbox)}
    skipped.add(settings.resolve(settings.files.state).resolve().parent)
    recipients = settings.resolve(settings.files.recipients)
    found = []
    for folder, folders, files in os.walk(base):
        here = Path(folder)
        folders[:] = sorted(
            f for f in folders if not f.startswith(".") and (here / f).resolve() not in skipped
        )
        for name in sorted(files):
            path = here / name
            copy = name.startswith(f"{recipients.stem}-")  # a dated copy of the member list
            if not name.startswith(".") and not copy and path.resolve() not in own:
                found.append(path.relative_to(base).as_posix())
            if len(found) >= MAX_CHOICES:
                return found
    return found


MAX_CHOICES = 200


def save_meeting(config: Path, meeting: MeetingForm, *, new: bool, now: datetime) -> list[MeetingWarning]:
    """Write the meeting into config.toml, keeping everything else as it is; its warnings."""
    document = tomlkit.parse(config_text(config))
    meetings = document.get("meetings")
    if meetings is None:
        meetings = tomlkit.aot()
        document.append("meetings", meetings)
    assert isinstance(meetings, AoT)
    table = next((t for t in meetings if t.get("id") == meeting.id), None)
    if new and table is not None:
        raise ConfigError(f"there is a meeting {meeting.id} already: choose another id", field="id")
    if table is None:
        if not new:
            raise ConfigError(f"there is no meeting {meeting.id} in config.toml", field="id")
        table = tomlkit.table()
        table["id"] = meeting.id
        meetings.append(table)
    _fill(table, meeting)
    return replace_checked(config, tomlkit.dumps(document), now)


def _fill(table: Table, meeting: MeetingForm) -> None:
    for key, value in meeting.values.items():
        if key in OPTIONAL and not value:
            table.pop(key, None)
        elif not _same(key, table.get(key), value):  # what did not change keeps its layout
            if key in ("agenda", "attachments"):
                items = tomlkit.array()
                items.extend(value)
                items.multiline(key == "agenda")
                table[key] = items
            else:
                table[key] = value
    if meeting.all_day:
        table["all_day"] = True
    else:
        table.pop("all_day", None)


def _same(key: str, written: Any, value: Any) -> bool:
    """Does config.toml already say `value` (a reminder however it is written: PT24H is P1D)?"""
    if key == "reminder" and isinstance(written, str):
        adapter = TypeAdapter(timedelta)
        try:
            return bool(adapter.validate_python(written) == adapter.validate_python(value))
        except ValidationError:
            return False
    return bool(written == value)


def mark_cancelled(config: Path, meeting_id: str, now: datetime) -> bool:
    """`status = "cancelled"` for the meeting in config.toml, as members were just told (the rest
    of the file as it is); False when config.toml has no such meeting or says so already."""
    document = tomlkit.parse(config_text(config))
    meetings = document.get("meetings")
    table = (
        next((t for t in meetings if t.get("id") == meeting_id), None) if isinstance(meetings, AoT) else None
    )
    if table is None or table.get("status") == "cancelled":
        return False
    table["status"] = "cancelled"
    replace_checked(config, tomlkit.dumps(document), now)
    return True


def set_recipients_file(config: Path, name: str, now: datetime) -> list[MeetingWarning]:
    """`[files] recipients = name` in config.toml."""
    document = tomlkit.parse(config_text(config))
    files = document.get("files")
    if files is None:
        files = tomlkit.table()
        document.append("files", files)
    files["recipients"] = name
    return replace_checked(config, tomlkit.dumps(document), now)


def replace_checked(config: Path, text: str, now: datetime) -> list[MeetingWarning]:
    """config.toml replaced by `text` once it passes `mailer check` (the member list's invalid
    rows aside: they are the Members page's business); check's warnings."""
    trial = config.with_name(f".{config.name}.desk-trial")
    trial.write_text(text, encoding="utf-8")
    try:
        report = _checked(trial, config, now)
        os.replace(trial, config)
    finally:
        trial.unlink(missing_ok=True)
    return report.warnings


class CheckFailed(ConfigError):
    """What `mailer check` found wrong with a change: nothing was replaced."""

    def __init__(self, problems: list[MailerError], trial: Path, config: Path) -> None:
        self.problems = problems
        super().__init__("; ".join(_named(str(p), trial, config) for p in problems))


def _checked(trial: Path, config: Path, now: datetime) -> Report:
    try:
        report = check(load_settings(trial), now=now, skip_invalid=True)
    except MailerError as err:
        raise CheckFailed([err], trial, config) from err
    if report.problems:
        raise CheckFailed(report.problems, trial, config)
    return report


def _named(text: str, trial: Path, config: Path) -> str:
    """A message about the trial file, about config.toml (where the change would go)."""
    return text.replace(str(trial), str(config)).replace(trial.name, config.name)


# An upload that leaves out this many members of the current list, or more than half of them,
# is asked about before it replaces anything: it may be the wrong file.
MANY_REMOVED = 5


@dataclass(frozen=True)
class Upload:
    """A member list uploaded and read, compared with the current one; nothing replaced yet."""

    name: str  # as it was uploaded
    data: bytes
    members: MemberList
    before: int  # members on the current list
    removed: tuple[Member, ...]  # on the current list, not on this one
    current: str  # digest of the current file as it was compared ('' when there was none)

    @property
    def many_removed(self) -> bool:
        return len(self.removed) >= MANY_REMOVED or 2 * len(self.removed) > self.before

    @property
    def asks(self) -> bool:
        """Replacing needs her word: rows are invalid, or many members would go."""
        return bool(self.members.invalid) or self.many_removed


@dataclass(frozen=True)
class Replaced:
    path: Path
    kept: Path | None  # the old list's dated copy
    members: MemberList
    warnings: list[MeetingWarning]


def read_upload(current: Path, upload_name: str, data: bytes, language: str) -> Upload:
    """The uploaded file read as mailer reads a member list (its invalid rows collected), and the
    members of `current` it leaves out. A file that is no member list, or holds no valid row, is
    refused."""
    suffix = Path(upload_name).suffix.lower()
    if suffix not in SHEETS:
        raise ConfigError(
            f"{upload_name}: not a member list: save it from Excel or LibreOffice as .xlsx, .ods or CSV",
            field="file",
        )
    trial = current.with_name(f".{current.stem}.desk-upload{suffix}")
    write_private(trial, data)
    try:
        members = read_members(trial, language)
    except MailerError as err:
        raise ConfigError(_named(str(err), trial, Path(upload_name)), field="file") from err
    finally:
        trial.unlink(missing_ok=True)
    if not members.members:
        raise ConfigError(
            f"{upload_name} has no member with a valid row: the list was not replaced", field="file"
        )
    kept = {m.key for m in members.members}
    old = _readable_members(current, language)
    removed = tuple(m for m in old if m.key not in kept)
    return Upload(upload_name, data, members, len(old), removed, _digest(current))


def _readable_members(path: Path, language: str) -> tuple[Member, ...]:
    try:
        return read_members(path, language).members if path.exists() else ()
    except MailerError:  # the current file cannot be read: nothing to compare with
        return ()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def replace_member_list(config: Path, current: Path, upload: Upload, now: datetime) -> Replaced:
    """The uploaded list in place of `current` (as it was when the upload was compared with it),
    the old file kept beside it as `<name>-<date>T<time><suffix>`. A list saved in another format
    (Excel in place of CSV) gets the current name with its own suffix, and config.toml says so."""
    if _digest(current) != upload.current:
        raise ConfigError(
            f"{current.name} changed since {upload.name} was uploaded: nothing was replaced; "
            "upload the file again to compare it with the list as it is now",
            field="file",
        )
    suffix = Path(upload.name).suffix.lower()
    target = current.with_suffix(suffix)
    trial = current.with_name(f".{current.stem}.desk-upload{suffix}")
    write_private(trial, upload.data)
    try:
        kept = None
        if current.exists():
            kept = current.with_name(f"{current.stem}-{now.strftime('%Y-%m-%dT%H%M%S')}{current.suffix}")
            shutil.copy2(current, kept)
        os.replace(trial, target)
    finally:
        trial.unlink(missing_ok=True)
    warnings: list[MeetingWarning] = []
    if target != current:
        warnings = set_recipients_file(config, _relative(target, config), now)
        current.unlink(missing_ok=True)  # its dated copy is kept
    return Replaced(target, kept, read_members(target), warnings)


def _relative(path: Path, config: Path) -> str:
    """`path` as config.toml names a file: relative to its folder when it is in or under it (the
    folder can be moved or copied), however the two were given (`--config config.toml` is
    relative, the list's path absolute)."""
    folder = config.resolve().parent
    for candidate in (path.absolute(), path.resolve()):
        if candidate.is_relative_to(folder):
            return candidate.relative_to(folder).as_posix()
    return str(path.resolve())
