"""`mailer status`: what the journal knows, per campaign or per meeting (with answers)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from mailer.bounces import bouncing
from mailer.config import Settings
from mailer.journal import Journal
from mailer.meetings import Meeting
from mailer.words import count, summary

ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")
DEFAULT_ZONE = Meeting.model_fields["timezone"].default


def show(
    journal: Journal, settings: Settings, what: str | None, out: TextIO, *, csv_path: Path | None = None
) -> int:
    meeting_ids = {m.id for m in settings.meetings} | set(journal.meeting_ids())
    if what in meeting_ids:
        return _meeting(journal, settings, what, out, csv_path)
    if what is None:
        return _campaigns(journal, settings, out)
    rows = journal.deliveries(campaign=what)
    if not rows:
        print(f"no campaign or meeting {what!r}", file=out)
        return 2
    sent = sum(1 for r in rows if r.status == "sent")
    print(f"{what}: {sent} sent, {len(rows) - sent} failed", file=out)
    zone = _zone(settings, rows[0].meeting_id)
    for row in rows:
        detail = f"  {row.code} {row.reply}" if row.status == "failed" else ""
        seq = f" seq {row.sequence}" if row.sequence is not None else ""
        print(f"  {_local(row.at, zone)}  {row.status:6}  {row.email}{seq}{detail}", file=out)
    return 0


def _campaigns(journal: Journal, settings: Settings, out: TextIO) -> int:
    """One line per campaign; the messages of one are `mailer status CAMPAIGN`."""
    totals = journal.campaign_totals()
    if not totals:
        print("nothing has been sent yet", file=out)
        return 0
    print_returns(journal, out)
    for row in totals:
        last = _local(row.last, _zone(settings, row.meeting_id))
        print(f"{row.campaign}: {row.sent} sent, {row.failed} failed, last {last}", file=out)
    print("each message of one: mailer status CAMPAIGN; who answered: mailer status MEETING_ID", file=out)
    return 0


def _zone(settings: Settings, meeting_id: str | None) -> ZoneInfo:
    """The meeting's own time zone; the network's for what is about no meeting."""
    meeting = next((m for m in settings.meetings if m.id == meeting_id), None)
    return ZoneInfo(meeting.timezone if meeting else DEFAULT_ZONE)


def _local(at: str, zone: ZoneInfo) -> str:
    """A journal time (ISO, UTC) as the coordinator's clock shows it: '2026-11-25 10:30'."""
    return datetime.fromisoformat(at).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _meeting(
    journal: Journal, settings: Settings, meeting_id: str, out: TextIO, csv_path: Path | None
) -> int:
    invited = journal.invited(meeting_id)
    answers = journal.answers(meeting_id)
    state = journal.meeting(meeting_id)
    sequence = state.sequence if state else "-"
    print(f"{meeting_id}: sequence {sequence}, {count(len(invited), 'member')} invited", file=out)
    configured = {m.id: m for m in settings.meetings}.get(meeting_id)
    if configured is not None:
        print(f"  {summary(configured, settings.sender.language)}", file=out)
    totals = {name: 0 for name in (*ANSWERS, "NO ANSWER", "CANCELLED")}
    rows = []
    for key, row in sorted(invited.items()):
        if row.method == "CANCEL":
            answer = "CANCELLED"
        else:
            answer = answers[key].partstat if key in answers else "NO ANSWER"
        totals[answer] = totals.get(answer, 0) + 1
        rows.append(
            (
                row.email,
                row.name,
                str(row.sequence),
                answer.lower(),
                answers[key].answered_at if key in answers else "",
                answers[key].comment if key in answers else "",
            )
        )
        stale = ""
        if key in answers and row.method != "CANCEL":
            answered = answers[key].sequence
            if answered is not None and row.sequence is not None and answered < row.sequence:
                stale = f" (to sequence {answered}, before the last change)"
        comment = f'  "{answers[key].comment}"' if key in answers and answers[key].comment else ""
        print(f"  {row.email:40} seq {row.sequence}  {answer.lower()}{stale}  {row.name}{comment}", file=out)
    failed = {r.recipient: r for r in journal.deliveries(meeting_id=meeting_id) if r.status == "failed"}
    for key, row in sorted(failed.items()):
        if key not in invited:  # the invitation never got through: the member does not know
            totals["NOT DELIVERED"] = totals.get("NOT DELIVERED", 0) + 1
            rows.append((row.email, row.name, str(row.sequence), "not delivered", "", ""))
            print(f"  {row.email:40} not delivered: {row.code} {row.reply}  {row.name}", file=out)
    print("  " + ", ".join(f"{name.lower()}: {count}" for name, count in totals.items()), file=out)
    print_returns(journal, out, set(invited) | set(failed))
    if csv_path is not None:
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "name", "sequence", "answer", "answered_at", "comment"])
            writer.writerows(rows)
        print(f"wrote {csv_path}", file=out)
    return 0


def print_returns(journal: Journal, out: TextIO, members: set[str] | None = None) -> None:
    """Bouncing members (which message, when, the server's words) and delay warnings not yet
    followed by a bounce (of `members` only, when given)."""
    bounced = bouncing(journal)
    delayed = {r.recipient: r for r in journal.returns() if r.kind == "delay" and r.recipient not in bounced}
    for title, found in (("bouncing", bounced), ("delay warning (the server is still trying)", delayed)):
        for key, item in sorted(found.items()):
            if members is None or key in members:
                about = f" {item.campaign}" if item.campaign else ""
                print(f"{title}: {item.recipient}  {item.at}{about}  {item.reply}", file=out)
    if bounced and (members is None or members & set(bounced)):
        print(
            "  (bouncing members are left out of sends; `mailer bounced --clear EMAIL` puts one back)",
            file=out,
        )
