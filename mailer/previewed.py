"""What a preview showed, kept beside the journal so that `send` can say what changed since:
members added, left out or changed in the list, the template, the meetings, an attachment,
the sender.

One record per campaign in `previews/` beside the journal: each member's address with a digest
of what the list says of them and what they get, and digests of the rest. It names members, so
it is its owner's only. Sending never needs it: a missing or unreadable record is "no preview".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mailer.addresses import address_key
from mailer.attachments import attachment_files
from mailer.config import Settings
from mailer.meetings import DEFAULT_ZONE
from mailer.parts import LAYOUT
from mailer.plan import Delivery, Plan, Selection
from mailer.private import private_folder, write_private
from mailer.words import count, local_time

FOLDER = "previews"
SHOWN = 5  # addresses named per kind of change; the rest are counted


@dataclass(frozen=True)
class Previewed:
    """What one preview of a campaign showed, as digests (and the members' addresses)."""

    campaign: str
    at: str  # when (ISO, UTC)
    chosen: str  # the part of the list asked for: '--group x', '--only y', or '' for everyone
    members: dict[str, str]  # address (case-folded) -> digest of the member and their message
    template: str
    meetings: str
    attachments: str
    sender: str


def previewed(plan: Plan, settings: Settings, selection: Selection, now: datetime) -> Previewed:
    """The record of `plan` as a preview shows it at `now`."""
    templates = {c.template.folder: c.template for c in plan.campaigns}
    meetings = [c.meeting for c in plan.campaigns if c.meeting is not None]
    meetings += [m.meeting for m in plan.meetings or ()]
    files = [
        file
        for campaign in plan.campaigns
        for file in attachment_files(
            campaign.template.folder,
            settings.base_dir,
            campaign.meeting.attachments if campaign.meeting is not None else (),
        )
    ]
    return Previewed(
        campaign=plan.campaign.key,
        at=now.isoformat(timespec="seconds"),
        chosen=_chosen(selection),
        members={d.member.key: _digest(_member(d)) for d in plan.deliveries},
        template=_digest([_folder(folder) for folder in sorted(templates)]),
        meetings=_digest([(m.id, m.model_dump(mode="json")) for m in meetings]),
        attachments=_digest([(f.name, _file(f.path)) for f in files]),
        sender=_digest(settings.sender.model_dump(mode="json")),
    )


def keep(record: Previewed, journal: Path) -> Path:
    """Write the record beside the journal, replacing the campaign's last one."""
    path = _record_path(journal, record.campaign)
    private_folder(journal.parent)  # made here when a preview comes before any journal
    private_folder(path.parent)
    write_private(path, json.dumps(asdict(record), ensure_ascii=False).encode())
    return path


def last_preview(journal: Path, campaign: str) -> Previewed | None:
    """The campaign's last preview, if one was kept."""
    try:
        data = json.loads(_record_path(journal, campaign).read_bytes())
        record = Previewed(**data)
    except (OSError, ValueError, TypeError):
        return None
    return record if record.campaign == campaign else None


@dataclass(frozen=True)
class Changes:
    """What `send` would do differently from what the campaign's last preview showed."""

    at: str | None  # when the preview was made (ISO, UTC); None: no preview was made
    chosen: tuple[str, str] | None = None  # (the preview's, this send's) part of the list, when they differ
    added: list[str] = field(default_factory=list)  # members' addresses
    gone: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)  # of PARTS, those that changed

    @property
    def same(self) -> bool:
        return self.at is not None and not (
            self.chosen or self.added or self.gone or self.changed or self.parts
        )

    def lines(self) -> list[str]:
        """In plain words, as `send` prints them; the first line says whether a preview was made."""
        if self.at is None:
            return ["no preview was made for this: --dry-run (or mailer preview) shows each message first"]
        when = local_time(self.at, ZoneInfo(DEFAULT_ZONE))
        if self.same:
            return [f"the same as previewed on {when}"]
        lines = []
        if self.chosen:
            before, now = self.chosen
            lines.append(f"the preview was of {before or 'everyone'}; this send is for {now or 'everyone'}")
        if self.added:
            lines.append(
                f"{count(len(self.added), 'member')} added since, not in the preview: {some(self.added)}"
            )
        if self.gone:
            lines.append(f"{count(len(self.gone), 'member')} in the preview left out now: {some(self.gone)}")
        if self.changed:
            lines.append(
                f"{count(len(self.changed), 'member')} changed (a name, library, language or other column in "
                f"the list, or the kind of message): {some(self.changed)}"
            )
        lines += [PARTS[part] for part in self.parts]
        return [f"changed since the preview of {when}:", *(f"  {line}" for line in lines)]


# The parts of a preview's record other than the members, and what `send` says when one changed.
PARTS = {
    "template": "the template changed (its texts or template.toml)",
    "meetings": "a meeting changed (config.toml, or `mailer cancel`)",
    "attachments": "an attachment changed",
    "sender": "the sender changed (config.toml [sender])",
}


def since_preview(
    plan: Plan, settings: Settings, selection: Selection, journal: Path, now: datetime
) -> Changes:
    """What `send` would do differently from the campaign's last preview."""
    before = last_preview(journal, plan.campaign.key)
    return changes_since(before, previewed(plan, settings, selection, now), (m.key for m in plan.skipped))


def changes_since(before: Previewed | None, now: Previewed, already: Iterable[str]) -> Changes:
    """`already`: members who have the message (sent since the preview, say): not taken for left out."""
    if before is None:
        return Changes(None)
    chosen = (before.chosen, now.chosen) if before.chosen != now.chosen else None
    gone = sorted(before.members.keys() - now.members.keys() - set(already))
    return Changes(
        before.at,
        chosen,
        added=sorted(now.members.keys() - before.members.keys()),
        gone=[] if chosen else gone,  # another part of the list: its members are not "left out"
        changed=sorted(
            k for k in now.members.keys() & before.members.keys() if now.members[k] != before.members[k]
        ),
        parts=[part for part in PARTS if getattr(before, part) != getattr(now, part)],
    )


def _record_path(journal: Path, campaign: str) -> Path:
    # A campaign key is a name (letters, digits, - _ . :); ':' is not allowed in Windows' names.
    return journal.parent / FOLDER / f"{campaign.replace(':', '+')}.json"


def _chosen(selection: Selection) -> str:
    if selection.only:
        return f"--only {address_key(selection.only)}"
    return f"--group {selection.group}" if selection.group else ""


def _member(delivery: Delivery) -> list[Any]:
    member = delivery.member
    fields = sorted(member.fields.items())
    return [
        member.email,
        member.name,
        member.organization,
        member.language,
        member.groups,
        fields,
        delivery.kind,
        delivery.campaign.key,
    ]


def _folder(folder: Path) -> list[Any]:
    """A template folder's texts and settings, and the layout beside it (its attachments are
    counted with the others)."""
    files = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "attachments" not in p.relative_to(folder).parts
    ]
    layout = folder.parent / LAYOUT
    if layout.is_file():
        files.append(layout)
    return [(str(p.relative_to(folder.parent)), _file(p)) for p in files]


def _file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _digest(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def some(addresses: list[str], more_words: str = " and {n} more") -> str:
    """The first SHOWN addresses, and how many more."""
    more = len(addresses) - SHOWN
    return ", ".join(addresses[:SHOWN]) + (more_words.format(n=more) if more > 0 else "")
