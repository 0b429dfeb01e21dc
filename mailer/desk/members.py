"""The member list as mailer reads it: distinct members (duplicates merged, and where), invalid
rows and why, who bounces and who unsubscribed; searchable."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailer.bounces import bouncing
from mailer.config import Settings
from mailer.desk.words import words
from mailer.journal import Journal
from mailer.recipients import Duplicate, Member, read_members, read_suppressed


@dataclass(frozen=True)
class MemberRow:
    member: Member
    marks: list[str]
    bad: bool  # bouncing or unsubscribed: gets nothing
    bouncing: bool = False  # can be put back when the address works again


@dataclass
class MemberView:
    path: Path
    total: int = 0
    rows: list[MemberRow] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def member_view(settings: Settings, query: str = "") -> MemberView:
    language = settings.sender.language
    w = words(language)
    path = settings.resolve(settings.files.recipients)
    members = read_members(path, language)
    suppressed = read_suppressed(settings.resolve(settings.files.unsubscribed))
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        bounced = bouncing(journal)
    merged = {d.email.casefold(): d.lines for d in members.duplicates}
    view = MemberView(path, len(members.members), duplicates=list(members.duplicates))
    view.invalid = [str(err) for err in members.invalid]
    wanted = query.strip().casefold()
    for member in members.members:
        if wanted and wanted not in _searchable(member):
            continue
        marks = []
        if member.key in merged:
            marks.append(w["merged"].format(lines=", ".join(str(n) for n in merged[member.key])))
        if member.key in bounced:
            marks.append(w["bouncing"].format(reply=bounced[member.key].reply))
        if member.key in suppressed:
            marks.append(w["unsubscribed"])
        bad = member.key in bounced or member.key in suppressed
        view.rows.append(MemberRow(member, marks, bad, member.key in bounced))
    return view


def _searchable(member: Member) -> str:
    parts = [member.name, member.email, member.organization, member.language, *member.groups]
    return " ".join(parts).casefold()
