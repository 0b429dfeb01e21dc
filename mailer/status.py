"""`mailer status`: what the journal knows, per campaign or per meeting (with answers)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from mailer.addresses import address_key
from mailer.backups import backups
from mailer.bounces import bouncing
from mailer.config import Settings
from mailer.current import current_meeting
from mailer.errors import ConfigError
from mailer.journal import Journal
from mailer.meetings import DEFAULT_ZONE, meeting_zone
from mailer.words import count, local_time, summary


def show(
    journal: Journal,
    settings: Settings,
    what: str | None,
    out: TextIO,
    *,
    csv_path: Path | None = None,
    html_path: Path | None = None,
) -> int:
    meeting_ids = {m.id for m in settings.meetings} | set(journal.meeting_ids())
    if what in meeting_ids:
        return _meeting(journal, settings, what, out, csv_path, html_path)
    if csv_path is not None or html_path is not None:
        known = ", ".join(sorted(meeting_ids)) or "none yet"
        raise ConfigError(f"--csv and --html are for a meeting: name one (known: {known})", field="status")
    if what is None:
        return _campaigns(journal, settings, out)
    rows = journal.deliveries(campaign=what)
    if not rows:
        print(f"no campaign or meeting {what!r}", file=out)
        return 2
    sent = sum(1 for r in rows if r.status == "sent")
    print(f"{what}: {sent} sent, {len(rows) - sent} failed", file=out)
    zone = zone_of(settings, journal, rows[0].meeting_id)
    for row in rows:
        detail = f"  {row.code} {row.reply}" if row.status == "failed" else ""
        seq = f" seq {row.sequence}" if row.sequence is not None else ""
        print(f"  {local_time(row.at, zone)}  {row.status:6}  {row.email}{seq}{detail}", file=out)
    return 0


def _campaigns(journal: Journal, settings: Settings, out: TextIO) -> int:
    """One line per campaign; the messages of one are `mailer status CAMPAIGN`."""
    totals = journal.campaign_totals()
    if not totals:
        print("nothing has been sent yet", file=out)
        return 0
    print_returns(journal, out, zone_of(settings, journal, None))
    for row in totals:
        last = local_time(row.last, zone_of(settings, journal, row.meeting_id))
        print(f"{row.campaign}: {row.sent} sent, {row.failed} failed, last {last}", file=out)
    print("each message of one: mailer status CAMPAIGN; who answered: mailer status MEETING_ID", file=out)
    copies = backups(journal.path)
    if copies:
        made = datetime.fromtimestamp(copies[0].stat().st_mtime, UTC).isoformat()
        print(
            f"last copy of the journal: {local_time(made, zone_of(settings, journal, None))}, {copies[0]} "
            "(README: 'Restoring the journal')",
            file=out,
        )
    return 0


def zone_of(settings: Settings, journal: Journal, meeting_id: str | None) -> ZoneInfo:
    """The meeting's own time zone (as members were last told it, once it is taken out of
    config.toml); the network's for what is about no meeting."""
    configured = any(m.id == meeting_id for m in settings.meetings)
    if meeting_id is None or not (configured or journal.meeting(meeting_id)):
        return ZoneInfo(DEFAULT_ZONE)
    return meeting_zone(current_meeting(settings, journal, meeting_id).meeting)


def _meeting(
    journal: Journal,
    settings: Settings,
    meeting_id: str,
    out: TextIO,
    csv_path: Path | None,
    html_path: Path | None,
) -> int:
    from mailer.attendance import attendance, write_csv  # reads the member list: only for a meeting

    found = attendance(journal, settings, meeting_id)
    sequence = "-" if found.sequence is None else found.sequence
    invited = sum(a.state != "NOT DELIVERED" for a in found.attendees)
    print(f"{meeting_id}: sequence {sequence}, {count(invited, 'member')} invited", file=out)
    # as members know it now (cancelled through `mailer cancel`, or as config.toml says)
    configured = current_meeting(settings, journal, meeting_id).meeting
    print(f"  {summary(configured, settings.sender.language)}", file=out)
    for a in found.attendees:
        if a.state == "NOT DELIVERED":
            print(f"  {a.email:40} not delivered: {a.problem}  {a.name}", file=out)
            continue
        stale = f" (to sequence {a.stale}, before the last change)" if a.stale is not None else ""
        comment = f'  "{a.comment}"' if a.comment else ""
        hand = " (entered by hand)" if a.by_hand else ""
        print(f"  {a.email:40} seq {a.sequence}  {a.state.lower()}{stale}{hand}  {a.name}{comment}", file=out)
    print("  " + ", ".join(f"{name.lower()}: {n}" for name, n in found.totals.items()), file=out)
    zone = ZoneInfo(configured.timezone)
    print_returns(journal, out, zone, {address_key(a.email) for a in found.attendees})
    if found.to_read:
        print(
            f"  {count(len(found.to_read), 'reply', 'replies')} to read yourself "
            "(`mailer answer` records what they say; one that needs nothing: "
            "`mailer inbox --handled EMAIL`):",
            file=out,
        )
        for read in found.to_read:
            when = local_time(read.written or read.at, zone)
            print(f"    {read.sender or '?'}: {read.subject}  ({when}, {read.source})", file=out)
    if csv_path is not None:
        write_csv(found, csv_path, settings.sender.language)
        print(f"wrote {csv_path}", file=out)
    if html_path is not None:
        from mailer.status_page import write_page

        write_page(found, settings, configured, html_path, zone)
        print(f"wrote {html_path}", file=out)
    return 0


def print_returns(journal: Journal, out: TextIO, zone: ZoneInfo, members: set[str] | None = None) -> None:
    """Bouncing members (which message, when in `zone`'s time, the server's words) and delay
    warnings not yet followed by a bounce (of `members` only, when given)."""
    bounced = bouncing(journal)
    delayed = {r.recipient: r for r in journal.returns() if r.kind == "delay" and r.recipient not in bounced}
    for title, found in (("bouncing", bounced), ("delay warning (the server is still trying)", delayed)):
        for key, item in sorted(found.items()):
            if members is None or key in members:
                about = f" {item.campaign}" if item.campaign else ""
                print(
                    f"{title}: {item.recipient}  {local_time(item.at, zone)}{about}  {item.reply}", file=out
                )
    if bounced and (members is None or members & set(bounced)):
        print(
            "  (bouncing members are left out of sends; `mailer bounced --clear EMAIL` puts one back)",
            file=out,
        )
