"""The command line: parses arguments, calls the pipeline, prints. Errors become exit codes here.

Exit codes: 0 all well, 1 some messages failed, 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from mailer import cli_replies
from mailer.errors import DeliveryError, InvalidRows, MailerError
from mailer.words import count

# Each command imports what it uses when it runs (Jinja2, icalendar, pydantic-settings, MSAL
# and the rest cost a person waiting on `mailer --help` or `status` most of a second).
if TYPE_CHECKING:
    from mailer.config import Settings
    from mailer.plan import Selection

Clock = Callable[[], datetime]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailer", description="Newsletters and meeting invitations for a network."
    )
    config_help = "config.toml (default: $MAILER_CONFIG or ./config.toml)"
    parser.add_argument("--config", help=config_help)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = commands.add_parser("check", help="validate config, members, meetings and templates")
    c.add_argument("--skip-invalid", action="store_true", help="report invalid rows but do not fail on them")
    c.add_argument(
        "--signin",
        action="store_true",
        help="also sign in to the SMTP server and the [imap] mailbox (nothing is sent or read)",
    )

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument("template", help="a folder in templates/ (invitation, cancellation, newsletter, ...)")
        p.add_argument("--meeting", help="the meeting the message is about")
        p.add_argument("--group", help="only members with this tag in `groups`")
        p.add_argument("--only", metavar="EMAIL", help="only this member")
        p.add_argument("--campaign", metavar="KEY", help="journal key (default TEMPLATE or TEMPLATE:MEETING)")
        p.add_argument(
            "--skip-invalid", action="store_true", help="leave invalid rows out instead of stopping"
        )
        p.add_argument("--resend", action="store_true", help="send again to members who already have it")

    p = commands.add_parser("preview", help="write every message to the outbox and a page listing them")
    selection(p)
    p.add_argument("--out", type=Path, help="outbox folder (default files.outbox)")
    p.add_argument("--open", action="store_true", help="open the preview page in the browser")

    s = commands.add_parser("send", help="send over SMTP, each member once")
    selection(s)
    s.add_argument("--limit", type=_positive, metavar="N", help="send at most N messages")
    s.add_argument("--test-to", metavar="EMAIL", help="send the first message to EMAIL only, as a test")
    s.add_argument("--dry-run", action="store_true", help="the same as preview")
    s.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    s.add_argument("--cancel-removed", action="store_true", help="cancel for members taken off the list")
    s.add_argument(
        "--reinstate", action="store_true", help="invite again to a meeting members were told is cancelled"
    )

    x = commands.add_parser("cancel", help="cancel a meeting in every invited member's calendar")
    x.add_argument("meeting")
    x.add_argument("--yes", action="store_true")
    x.add_argument("--dry-run", action="store_true")

    st = commands.add_parser("status", help="who was sent what, and who answered")
    st.add_argument("what", nargs="?", help="a campaign key or a meeting id")
    st.add_argument("--csv", type=Path, metavar="FILE", help="write the meeting's list as CSV (Excel)")
    st.add_argument(
        "--html",
        nargs="?",
        type=Path,
        const=True,
        metavar="FILE",
        help="write (and open) a page of who is coming",
    )

    i = commands.add_parser("ics", help="one meeting as an .ics file (add to calendar)")
    i.add_argument("meeting")
    i.add_argument("-o", "--output", type=Path)

    f = commands.add_parser("feed", help="all upcoming meetings as one subscribable calendar")
    f.add_argument("-o", "--output", type=Path)

    u = commands.add_parser("unsubscribe", help="add an address to the suppression list")
    u.add_argument("email")

    cli_replies.add_commands(commands)

    d = commands.add_parser("desk", help="the whole job in the browser, on this computer only")
    d.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)")
    d.add_argument("--no-browser", action="store_true", help="only print the address; open no browser")

    n = commands.add_parser("init", help="make a new folder to work in: config.toml, member list, templates")
    n.add_argument("folder", nargs="?", type=Path, default=Path("."), help="the folder (default: this one)")
    n.add_argument("--name", help="the network's name (not asked)")
    n.add_argument("--email", help="the address messages are sent from (not asked)")
    n.add_argument("--provider", help="microsoft365, gmail or other (not asked)")
    n.add_argument("--host", help="the mail server, for --provider other (not asked)")

    pw = commands.add_parser(
        "password", help="keep the SMTP password in this computer's keyring, or forget it"
    )
    pw.add_argument("--imap", action="store_true", help="the [imap] mailbox's password instead")
    pw.add_argument("--forget", action="store_true", help="remove the kept password")

    commands.add_parser("login", help="sign in to Microsoft 365 (OAuth2 device code)")
    commands.add_parser("logout", help="forget the sign-in")

    # The same two options after the command (`mailer check --config x.toml`): given there they
    # win; left out, they leave what was given before the command alone.
    for sub in commands.choices.values():
        sub.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    now = (clock or (lambda: datetime.now(UTC)))()
    stdout = out or cast(TextIO, _QuietPipe(sys.stdout))
    try:
        if args.command == "init":  # makes the folder a config.toml is read from
            return _init(args, stdout)
        from mailer.config import config_path, load_settings

        settings = load_settings(config_path(args.config))
        return COMMANDS[args.command](args, settings, now, stdout)
    except MailerError as err:
        if args.debug:
            traceback.print_exc()
        for problem in getattr(err, "rows", None) or [err]:
            print(f"error: {problem}", file=sys.stderr)
        if isinstance(err, InvalidRows):
            print("fix the rows, or add --skip-invalid to leave them out", file=sys.stderr)
        return 2
    except OSError as err:  # a file that cannot be written or read (outbox, -o, the journal's folder)
        if args.debug:
            traceback.print_exc()
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to finish", file=sys.stderr)
        return 1


class _QuietPipe(io.TextIOBase):
    """Standard output that goes quiet when its reader stops reading (`mailer status | head`):
    no traceback, and the command still finishes its work (a send is not cut short by it)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._close_quietly()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._close_quietly()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def _close_quietly(self) -> None:
        # What is still buffered goes to /dev/null: Python's own flush at exit has nowhere to fail.
        self._gone = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())


def _check(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.check import check
    from mailer.passwords import with_passwords_asked

    if args.signin:
        settings = with_passwords_asked(settings, out, "smtp", "imap")
    report = check(settings, now=now, skip_invalid=args.skip_invalid, try_signin=args.signin)
    print(f"members: {report.members} distinct", file=out)
    for dup in report.duplicates:
        print(f"  duplicate: {dup}", file=out)
    if report.suppressed:
        print(f"  unsubscribed (never sent anything): {report.suppressed}", file=out)
    print(f"invalid rows: {len(report.invalid)}", file=out)
    for err in report.invalid:
        print(f"  {err}", file=out)
    print(f"meetings: {len(report.meetings)}", file=out)
    for line in report.meetings:
        print(f"  {line}", file=out)
    for warning in report.warnings:
        print(f"warning: {warning}", file=out)
    print(f"templates: {len(report.templates)}", file=out)
    for line in report.templates:
        print(f"  {line}", file=out)
    if report.attachments:
        print(f"attachments: {len(report.attachments)}", file=out)
        for line in report.attachments:
            print(f"  {line}", file=out)
    print(f"sign-in: {report.signin}", file=out)
    print(f"reading answers: {report.mailbox_signin}", file=out)
    for err in report.problems:
        print(f"error: {err}", file=sys.stderr)
    if report.ok:
        print("all good: nothing was sent", file=out)
        return 0
    if report.invalid and not args.skip_invalid:
        rows = count(len(report.invalid), "invalid row")
        where = settings.resolve(settings.files.recipients).name
        print(
            f"not ready to send: {rows} in {where}: fix them there (each line above says what is wrong), "
            "or add --skip-invalid to preview and send to leave them out",
            file=out,
        )
    if report.problems:
        print("not ready to send: fix what the errors say, then run mailer check again", file=out)
    return 2


def _selection(args: argparse.Namespace, **extra: object) -> Selection:
    from mailer.plan import Selection

    return Selection(
        template=args.template,
        meeting_id=args.meeting,
        group=args.group,
        only=args.only,
        campaign=args.campaign,
        resend=args.resend,
        cancel_removed=getattr(args, "cancel_removed", False),
        reinstate=getattr(args, "reinstate", False),
        **extra,  # type: ignore[arg-type]
    )


def _preview(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    return _write_preview(settings, now, out, _selection(args), args.skip_invalid, args.out, args.open)


def _write_preview(
    settings: Settings,
    now: datetime,
    out: TextIO,
    selection: Selection,
    skip_invalid: bool,
    folder: Path | None = None,
    open_page: bool = False,
) -> int:
    from mailer import send_output
    from mailer.journal import Journal
    from mailer.run import load_inputs, preview

    inputs = load_inputs(settings, skip_invalid=skip_invalid)
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        result = preview(inputs, journal, selection, now=now, out=folder)
    send_output.print_plan(result.plan, inputs, out)
    print(f"wrote {count(result.count, 'message')} to {result.folder}", file=out)
    print(f"preview page: {result.index}", file=out)
    if open_page:
        import webbrowser

        webbrowser.open(result.index.resolve().as_uri())
    return 0


def _send(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    if args.dry_run:
        return _write_preview(settings, now, out, _selection(args), args.skip_invalid)
    return _deliver(args, settings, now, out, _selection(args), test_to=args.test_to, limit=args.limit)


def _cancel(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.plan import Selection

    selection = Selection(template="invitation", meeting_id=args.meeting, cancel=True)
    if args.dry_run:
        return _write_preview(settings, now, out, selection, True)
    return _deliver(args, settings, now, out, selection, skip_invalid=True)


def _deliver(
    args: argparse.Namespace,
    settings: Settings,
    now: datetime,
    out: TextIO,
    selection: Selection,
    *,
    test_to: str | None = None,
    limit: int | None = None,
    skip_invalid: bool | None = None,
) -> int:
    from mailer import send_output
    from mailer.backups import told
    from mailer.journal import Journal
    from mailer.limits import duration, room_today
    from mailer.passwords import with_passwords_asked
    from mailer.previewed import since_preview
    from mailer.run import load_inputs, make_plan, send, send_test
    from mailer.signin import SmtpSignIn

    inputs = load_inputs(settings, skip_invalid=args.skip_invalid if skip_invalid is None else skip_invalid)
    with Journal(settings.resolve(settings.files.state)) as journal, journal.sending():
        plan = make_plan(inputs, journal, selection, now=now)
        send_output.print_plan(plan, inputs, out)
        if test_to:
            inputs = replace(inputs, settings=with_passwords_asked(settings, out, "smtp"))
            outgoing = send_test(inputs, plan, test_to, now=now)
            print(f"test message '{outgoing.subject}' sent to {test_to}; nothing recorded", file=out)
            return 0
        total = len(plan.deliveries) if limit is None else min(limit, len(plan.deliveries))
        if not total:
            print("nothing to send", file=out)
            return 0
        for line in since_preview(plan, settings, selection, journal.path, now).lines():
            print(f"  {line}", file=out)
        smtp = settings.smtp
        room, said = room_today(smtp, journal, now, total)
        if said:
            print(said, file=out)
        if not room:
            return 0
        total = limit = room
        who = f" as {smtp.username}" if smtp.username else ""
        print(
            f"to send: {count(total, 'message')} to {count(total, 'member')} "
            f"via {smtp.host}:{smtp.port}{who}",
            file=out,
        )
        if took := duration(total, smtp):
            print(f"  {took}", file=out)
        inputs = replace(inputs, settings=with_passwords_asked(settings, out, "smtp"))
        signin = SmtpSignIn(inputs.settings)
        signin.secret()  # no password or token: say so before asking, not after
        if not args.yes and not send_output.confirm(out):
            return 2
        print(told(journal.back_up("cancel" if selection.cancel else "send")), file=out)
        shown = send_output.progress(out)
        done = 0

        def progress(sent: int, failed: int, total: int) -> None:
            nonlocal done
            done = sent + failed
            shown(sent, failed, total)

        try:
            report = send(inputs, journal, plan, now=now, limit=limit, progress=progress, signin=signin)
        except DeliveryError as err:  # a refused sign-in or TLS failure stopped the run
            sent = (
                f"{done} of {count(total, 'message')} were done before that" if done else "nothing was sent"
            )
            raise type(err)(
                f"{err.message}; {sent}. Fix it and run the same command again to finish.",
                code=err.code,
                reply=err.reply,
            ) from err
    send_output.print_report(report, out)
    return 1 if report.failed else 0


def _positive(text: str) -> int:
    """`--limit N`: a count of messages, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of messages (1 or more)")
    return value


def _status(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer import status as status_view
    from mailer.journal import Journal

    page = args.html
    if page is True:  # --html without a file: beside the outbox, named for the meeting
        page = settings.resolve(settings.files.outbox) / f"status-{args.what or 'all'}.html"
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        code = status_view.show(journal, settings, args.what, out, csv_path=args.csv, html_path=page)
    if page is not None and code == 0 and out.isatty():
        import webbrowser

        webbrowser.open(page.resolve().as_uri())
    return code


def _ics(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.journal import Journal
    from mailer.publish import meeting_file

    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        data, meeting = meeting_file(settings, journal, args.meeting, now)
    cancelled = " (cancelled: calendars that have it drop it)" if meeting.meeting.cancelled else ""
    return _write_calendar(data, args.output or Path(f"{meeting.meeting.id}.ics"), out, cancelled)


def _feed(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.journal import Journal
    from mailer.publish import feed

    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        data, meetings = feed(settings, journal, now)
    on = sum(1 for m in meetings if not m.meeting.cancelled)
    note = f" ({count(on, 'upcoming meeting')}"
    note += f", {count(len(meetings) - on, 'cancelled meeting')})" if len(meetings) > on else ")"
    return _write_calendar(data, args.output or Path("meetings.ics"), out, note)


def _write_calendar(data: bytes, path: Path, out: TextIO, note: str = "") -> int:
    path.write_bytes(data)
    print(f"wrote {path}{note}", file=out)
    return 0


def _unsubscribe(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.recipients import add_suppressed

    path = settings.resolve(settings.files.unsubscribed)
    if add_suppressed(path, args.email, now.date().isoformat()):
        print(f"{args.email} will not be sent anything again (added to {path.name})", file=out)
    else:
        print(f"{args.email} was already unsubscribed", file=out)
    return 0


def _password(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.passwords import password_command

    return password_command(settings, "imap" if args.imap else "smtp", forget_it=args.forget, out=out)


def _desk(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.config import config_path
    from mailer.desk.server import serve

    return serve(config_path(args.config), port=args.port, open_browser=not args.no_browser, out=out)


def _init(args: argparse.Namespace, out: TextIO) -> int:
    from mailer.starter import init, terminal_question

    flags = {key: getattr(args, key) for key in ("name", "email", "provider", "host")}
    return init(args.folder, **flags, ask=terminal_question(), out=out)


def _login(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.oauth import login

    return login(settings, out)


def _logout(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.oauth import logout

    return logout(settings, out)


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, datetime, TextIO], int]] = {
    "check": _check,
    "preview": _preview,
    "send": _send,
    "cancel": _cancel,
    "status": _status,
    "ics": _ics,
    "feed": _feed,
    "unsubscribe": _unsubscribe,
    **cli_replies.COMMANDS,
    "desk": _desk,
    "password": _password,
    "login": _login,
    "logout": _logout,
}
