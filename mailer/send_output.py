"""What `preview`, `send` and `cancel` print in the terminal: the plan (who gets what, who is
left out and why), the question asked before anything goes out, the progress while it goes,
and the report after (failures told apart: refused for good, or not delivered this time).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from mailer.plan import Plan
from mailer.run import Inputs, SendReport
from mailer.words import count

# What each kind of delivery is called in the plan's summary, one and many.
KIND_WORDS = {
    "new": ("new", "new"),
    "update": ("update", "updates"),
    "cancel": ("cancellation", "cancellations"),
    "message": ("message", "messages"),
}


def print_plan(plan: Plan, inputs: Inputs, out: TextIO) -> None:
    kinds: dict[str, int] = {}
    for delivery in plan.deliveries:
        kinds[delivery.kind] = kinds.get(delivery.kind, 0) + 1
    summary = ", ".join(count(n, *KIND_WORDS[k]) for k, n in sorted(kinds.items())) or "nothing to send"
    print(f"campaign {plan.campaign.key}: {summary}", file=out)
    if plan.campaign.method:
        print(f"  calendar: {plan.campaign.method}, sequence {plan.campaign.sequence}", file=out)
    if plan.skipped:
        have = "has" if len(plan.skipped) == 1 else "have"
        print(f"  {count(len(plan.skipped), 'member')} already {have} it (not sent again)", file=out)
        if not plan.deliveries and plan.campaign.method is None:
            print(
                f"  a new issue? give it a campaign key of its own: --campaign {plan.campaign.key}-2",
                file=out,
            )
    if plan.suppressed:
        print(f"  {count(len(plan.suppressed), 'unsubscribed member')} left out", file=out)
    if plan.bouncing:
        print(f"  {count(len(plan.bouncing), 'member')} left out because their address bounced:", file=out)
        for member in plan.bouncing:
            print(f"    {member.email}", file=out)
        print("  (when an address works again: mailer bounced --clear EMAIL)", file=out)
    for err in inputs.members.invalid:
        print(f"  skipped invalid row: {err}", file=out)
    if plan.removed:
        were = "was" if len(plan.removed) == 1 else "were"
        are = "is" if len(plan.removed) == 1 else "are"
        print(
            f"  {count(len(plan.removed), 'member')} {were} invited but {are} no longer on the list:",
            file=out,
        )
        for row in plan.removed:
            print(f"    {row.email}", file=out)
        print("  (send with --cancel-removed to cancel it in their calendars)", file=out)


def confirm(out: TextIO) -> bool:
    """Ask on the terminal; piped input is never taken as an answer."""
    if not sys.stdin.isatty():
        print("error: no terminal to confirm on; add --yes to send", file=sys.stderr)
        return False
    print("send now? [y/N] ", end="", file=out, flush=True)
    answer = sys.stdin.readline().strip().casefold()
    if answer not in ("y", "yes", "j", "ja"):
        print("nothing sent", file=out)
        return False
    return True


def progress(out: TextIO) -> Callable[[int, int, int], None]:
    """A bar redrawn a few times a second on a terminal; otherwise a line per tenth of the run.
    Failed messages count as failed, not sent (`!` in the bar)."""
    started = time.monotonic()
    terminal = out.isatty()
    step = 1
    drawn = 0.0

    def show(sent: int, failed: int, total: int) -> None:
        nonlocal step, drawn
        done = sent + failed
        if terminal:
            now = time.monotonic()
            if done < total and now - drawn < 0.2:
                return
            drawn = now
        elif done < total and done % step:
            return
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate else 0
        failures = f", {failed} failed" if failed else ""
        line = f"{sent}/{total} sent{failures} · {rate:.1f}/s · {left:.0f}s left"
        if terminal:
            width = 30
            ok, bad = int(width * sent / total), int(width * done / total) - int(width * sent / total)
            bar = "#" * ok + "!" * bad + "-" * (width - ok - bad)
            print(f"\r[{bar}] {line}", end="" if done < total else "\n", file=out, flush=True)
        else:
            print(line, file=out)
            step = max(1, total // 10)

    return show


def print_report(report: SendReport, out: TextIO) -> None:
    """What was sent; failures told apart: refused for good (fix the address) or for now (run again)."""
    print(
        f"sent: {report.sent}, skipped (already sent): {report.skipped}, failed: {len(report.failed)}",
        file=out,
    )
    refused = [outcome for outcome in report.failed if outcome.permanent]
    later = [outcome for outcome in report.failed if not outcome.permanent]
    if refused:
        print(f"refused by the server ({count(len(refused), 'address', 'addresses')}):", file=out)
        for outcome in refused:
            print(f"  failed: {outcome.outgoing.rcpt_to}: {outcome.code} {outcome.reply}", file=out)
        print(
            "  check these addresses in the member list (or ask the members): they are left out of "
            "later sends (when one works again: mailer bounced --clear EMAIL)",
            file=out,
        )
    if later:
        print(f"not delivered this time ({count(len(later), 'message')}):", file=out)
        for outcome in later:
            code = outcome.code if outcome.code is not None else "no answer:"
            print(f"  failed: {outcome.outgoing.rcpt_to}: {code} {outcome.reply}", file=out)
        print(f"run the same command again to send {'it' if len(later) == 1 else 'them'}", file=out)
