"""Preview and send from the desk, through the same steps as `mailer preview`, `send` and
`cancel`: the same checks, plan, journal, lock, back-up and sign-in (run.py's functions).

Invalid rows of the member list are always left out here, as `--skip-invalid` leaves them out:
they are in the list because she chose to keep them when she uploaded it (Members says they are
left out until corrected), and the summary names each one before she confirms."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mailer.config import Settings
from mailer.desk.editing import mark_cancelled
from mailer.desk.jobs import Job
from mailer.desk.signing import sign_in_first
from mailer.desk.words import campaign_words, counted, number, words
from mailer.errors import ConfigError, MailerError
from mailer.journal import Journal
from mailer.limits import Today, next_minute, per_minute, today
from mailer.meetings import DEFAULT_ZONE
from mailer.passwords import where_from
from mailer.plan import Plan, Selection, campaign_key
from mailer.previewed import Changes, Previewed, changes_since, previewed, since_preview, some
from mailer.private import private_folder, write_private
from mailer.run import Inputs, Preview, SendReport, load_inputs, make_plan, preview, send, send_test
from mailer.signin import SmtpSignIn
from mailer.words import long_local_time

CANCEL = ":cancel"  # the choice that is `mailer cancel ID`, not a template


@dataclass(frozen=True)
class Choice:
    """What the coordinator chose in the form."""

    selection: Selection

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Choice:
        template = form.get("template", "").strip()
        if not template:
            raise MailerError("choose a template", field="template")
        meeting = form.get("meeting", "").strip() or None
        if template == CANCEL:
            if meeting is None:
                raise MailerError("choose the meeting to cancel", field="meeting")
            return cls(Selection(template="invitation", meeting_id=meeting, cancel=True))
        selection = Selection(
            template=template,
            meeting_id=meeting,
            group=form.get("group", "").strip() or None,
            only=form.get("only", "").strip() or None,
            campaign=form.get("campaign", "").strip() or None,
            resend=form.get("resend") == "on",
            cancel_removed=form.get("cancel_removed") == "on",
            reinstate=form.get("reinstate") == "on",
        )
        return cls(selection)

    def as_form(self) -> dict[str, str]:
        """The form's fields that choose this again (Choice.from_form's)."""
        selection = self.selection
        if selection.cancel:
            return {"template": CANCEL, "meeting": selection.meeting_id or ""}
        fields = {
            "template": selection.template,
            "meeting": selection.meeting_id or "",
            "group": selection.group or "",
            "only": selection.only or "",
            "campaign": selection.campaign or "",
        }
        ticked = {
            "resend": selection.resend,
            "cancel_removed": selection.cancel_removed,
            "reinstate": selection.reinstate,
        }
        return {k: v for k, v in fields.items() if v} | {k: "on" for k, on in ticked.items() if on}


# A send the desk started is noted here (beside the journal) until it ends: one still noted when
# the desk starts again was cut off (the desk closed, the computer slept) before it could end.
UNDER_WAY = "desk-sending"


def _under_way(settings: Settings, campaign: str) -> Path:
    folder = settings.resolve(settings.files.state).parent / UNDER_WAY
    private_folder(folder)
    return folder / f"{campaign.replace(':', '+')}.json"


def cut_off(settings: Settings) -> list[Choice]:
    """The sends the desk started that never ended (the desk stopped under way), as chosen."""
    folder = settings.resolve(settings.files.state).parent / UNDER_WAY
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            found.append(Choice.from_form(json.loads(path.read_bytes())))
        except (OSError, ValueError, MailerError):
            continue  # unreadable: nothing to offer
    return found


@dataclass
class Summary:
    """What `send` prints before it asks, in the coordinator's words."""

    campaign: str
    total: int
    named: str = ""  # the run in her words ('Påmindelse: Netværksmøde: Samskabelse')
    lines: list[str] = field(default_factory=list)  # counts, who is left out and why
    sending: str = ""  # how many, to whom, which server
    time: str = ""  # how long at the rate limit
    today: str = ""  # what the day's limit leaves, and what happens to the rest
    sends: int = 0  # of `total`, what goes now (the day's limit may hold some back)
    since: list[str] = field(
        default_factory=list
    )  # what changed since the preview; first: whether one was made
    signin: str = ""
    needs_signin: str = ""  # why she must sign in to Microsoft 365 first ("" when she need not)
    needs_password: bool = False
    account: str = ""
    seen: Previewed | None = None  # who gets what, as the button sends it only if still so


def summarize(
    settings: Settings, plan: Plan, inputs: Inputs, journal: Journal, selection: Selection, now: datetime
) -> Summary:
    language = settings.sender.language
    w = words(language)
    kinds: dict[str, int] = {}
    for delivery in plan.deliveries:
        kinds[delivery.kind] = kinds.get(delivery.kind, 0) + 1
    total = len(plan.deliveries)
    found = Summary(plan.campaign.key, total)
    if kinds:
        found.lines.append(", ".join(counted(language, f"kind_{k}", n) for k, n in sorted(kinds.items())))
    else:
        found.lines.append(w["nothing_to_send"])
        if plan.skipped and plan.campaign.method is None:  # as `send`: a newsletter's next issue
            found.lines.append(w["new_issue"].format(key=f"{plan.campaign.key}-2"))
    if plan.skipped:
        found.lines.append(counted(language, "skipped", len(plan.skipped)))
    if plan.suppressed:
        found.lines.append(counted(language, "suppressed", len(plan.suppressed)))
    if plan.bouncing:
        found.lines.append(w["bouncing_left_out"].format(emails=", ".join(m.email for m in plan.bouncing)))
    if plan.removed:
        found.lines.append(w["removed_left"].format(emails=", ".join(r.email for r in plan.removed)))
    found.lines += [w["skipped_invalid"].format(row=err) for err in inputs.members.invalid]
    smtp = settings.smtp
    day = today(smtp, journal, now, total)
    found.sends = day.sends if day else total
    found.today = _today(language, day)
    if total:
        found.since = _since(language, since_preview(plan, settings, selection, journal.path, now))
    account = w["as_account"].format(account=smtp.username) if smtp.username else ""
    found.sending = w["to_send"].format(
        messages=counted(language, "message_n", found.sends),
        members=counted(language, "member_n", found.sends),
        server=f"{smtp.host}:{smtp.port}",
        account=account,
    )
    found.time = _time_at_rate(settings, found.sends)
    signin = SmtpSignIn(settings)
    found.signin = w["signin"].format(how=signin_words(signin, language))
    found.needs_password = signin.method == "password" and smtp.password is None
    if total:
        found.needs_signin = sign_in_first(settings)
    found.account = smtp.username
    return found


def signin_words(signin: SmtpSignIn, language: str) -> str:
    """How the send signs in, in her words: server, account, and where the password or token
    comes from (never the secret)."""
    w = words(language)
    smtp = signin.settings.smtp
    server = f"{smtp.host}:{smtp.port}"
    if signin.method == "none":
        return w["signin_none"].format(server=server)
    if signin.method == "password":
        try:
            found = where_from(signin.settings, "smtp")
        except ConfigError as err:
            where = w["keyring_unusable"].format(problem=err.message)
        else:
            where = {
                "environment": w["from_environment"].format(variable=signin.source),
                "keyring": w["from_keyring"],
                "typed": w["from_typed"],
                "missing": w["from_nowhere"],
            }[found]
        return w["signin_password"].format(account=smtp.username, server=server, where=where)
    return w["signin_xoauth2"].format(account=smtp.username, server=server, where=_token_words(signin, w))


def _token_words(signin: SmtpSignIn, w: dict[str, str]) -> str:
    if signin.source == "smtp.token_command":
        program = (signin.settings.smtp.token_command or "").split(" ", 1)[0]
        return w["token_command"].format(program=program)
    if signin.source != "mailer login":
        return w["token_environment"].format(variable=signin.source)
    from mailer.oauth import SavedSignIn  # MSAL only where a sign-in is shown

    try:
        accounts = SavedSignIn(signin.settings).accounts()
    except ConfigError:
        return w["token_unusable"]
    return w["token_login"].format(accounts=", ".join(accounts)) if accounts else w["token_no_login"]


def _time_at_rate(settings: Settings, total: int) -> str:
    language = settings.sender.language
    w = words(language)
    rate = per_minute(settings.smtp)  # the service's limit, or config.toml's
    if rate is None:
        return w["rate_none"]
    minutes = counted(language, "minute_n", max(1, round(total / rate)))
    return w["rate_time"].format(minutes=minutes, rate=f"{rate:g}")


def _today(language: str, day: Today | None) -> str:
    """What `send` says of the day's limit (limits.room_today), in the coordinator's language."""
    if day is None:
        return ""
    w = words(language)
    per_day = number(language, day.per_day)
    if not day.waiting:
        return w["day_left"].format(by=day.set_by, per_day=per_day, room=number(language, day.room))
    said = w["day_used"].format(by=day.set_by, per_day=per_day, sent=counted(language, "message_n", day.sent))
    then = long_local_time(next_minute(day.next_at).isoformat(), ZoneInfo(DEFAULT_ZONE), language)
    if not day.sends:
        return w["day_none"].format(said=said, total=day.total, then=then)
    return w["day_part"].format(said=said, sends=day.sends, total=day.total, waiting=day.waiting, then=then)


def _since(language: str, changes: Changes) -> list[str]:
    """What `send` says of the campaign's last preview (previewed.Changes.lines), in the
    coordinator's language: the first line says whether one was made and when."""
    w = words(language)
    if changes.at is None:
        return [w["no_preview"]]
    when = long_local_time(changes.at, ZoneInfo(DEFAULT_ZONE), language)
    if changes.same:
        return [w["same_as_preview"].format(when=when)]
    lines = [w["changed_since_preview"].format(when=when)]
    more = w["and_more"]
    if changes.chosen:
        before, now = (_chosen(language, c) for c in changes.chosen)
        lines.append(w["preview_chosen"].format(before=before, now=now))
    for key, found in (
        ("preview_added", changes.added),
        ("preview_gone", changes.gone),
        ("preview_changed", changes.changed),
    ):
        if found:
            lines.append(
                w[key].format(members=counted(language, "member_n", len(found)), emails=some(found, more))
            )
    lines += [w[f"preview_{part}"] for part in changes.parts]
    return lines


def _chosen(language: str, chosen: str) -> str:
    """A part of the list as a preview's record names it ('--group x', '--only y', '')."""
    w = words(language)
    flag, _, value = chosen.partition(" ")
    if flag == "--group":
        return w["chosen_group"].format(group=value)
    if flag == "--only":
        return w["chosen_only"].format(email=value)
    return w["chosen_all"]


KINDS = ("invitation", "reminder", "cancellation", "newsletter")  # named on the progress page


def what_is_sent(settings: Settings, choice: Choice) -> tuple[str, str]:
    """What a send is, as the progress page names it: its kind (one of KINDS, or '' for another
    template) and the meeting's title (a newsletter's campaign)."""
    selection = choice.selection
    meeting = next((m for m in settings.meetings if m.id == selection.meeting_id), None)
    kind = selection.template if selection.template in KINDS else ""
    if selection.cancel or (kind == "invitation" and meeting is not None and meeting.cancelled):
        kind = "cancellation"
    if meeting is not None:
        return kind, meeting.title
    return kind, selection.campaign or selection.meeting_id or selection.template


def plan_summary(settings: Settings, choice: Choice, now: datetime) -> Summary:
    """The summary, from a plan made on the journal as it is (read only: nothing changes)."""
    inputs = load_inputs(settings, skip_invalid=True)
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        plan = make_plan(inputs, journal, choice.selection, now=now)
        found = summarize(settings, plan, inputs, journal, choice.selection, now)
    found.seen = previewed(plan, settings, choice.selection, now)
    found.named = run_name(settings, choice, plan.campaign.key)
    return found


def run_name(settings: Settings, choice: Choice, key: str | None = None) -> str:
    """The run in her words: the template and the meeting's title, or the name she gave it."""
    selection = choice.selection
    if key is None:
        key = campaign_key(selection.template, selection.meeting_id, selection.campaign)
    if selection.cancel:
        key = f"cancellation:{selection.meeting_id}"
    titles = {m.id: m.title for m in settings.meetings}
    return campaign_words(key, titles, settings.sender.language)


def build_preview(settings: Settings, choice: Choice, now: datetime) -> Preview:
    """`mailer preview`: every message into the outbox, and its page."""
    inputs = load_inputs(settings, skip_invalid=True)
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        return preview(inputs, journal, choice.selection, now=now)


def deliver(
    settings: Settings, choice: Choice, seen: Previewed, now: datetime, job: Job, expected: int
) -> SendReport:
    """`mailer send` (or `cancel`) after its confirmation, reporting progress to `job`. Refused
    when another run holds the journal's lock, or when the plan is no longer what she saw. Once a
    cancellation went out, config.toml says the meeting is cancelled, as members were told."""
    try:
        return _deliver(settings, choice, seen, now, job, expected)
    finally:
        meeting_id = choice.selection.meeting_id
        if choice.selection.cancel and job.sent and meeting_id is not None:
            # config.toml that cannot be changed: the overview says it disagrees with members
            with suppress(MailerError, OSError):
                mark_cancelled(settings.path, meeting_id, now)


def _deliver(
    settings: Settings, choice: Choice, seen: Previewed, now: datetime, job: Job, expected: int
) -> SendReport:
    w = words(settings.sender.language)
    inputs = load_inputs(settings, skip_invalid=True)
    with Journal(settings.resolve(settings.files.state)) as journal, journal.sending():
        plan = make_plan(inputs, journal, choice.selection, now=now)
        total = len(plan.deliveries)
        changed = changes_since(seen, previewed(plan, settings, choice.selection, now), ())
        if total != expected or not changed.same:
            said = [w["changed_since"].format(n=total), *_in_words(changed, w)]
            raise MailerError("; ".join(said), field="summary")
        day = today(settings.smtp, journal, now, total)
        if day is not None and not day.sends:
            raise MailerError(_today(settings.sender.language, day))
        job.total = limit = day.sends if day is not None else total
        if day is not None and day.waiting:
            job.today = _today(settings.sender.language, day)
        signin = SmtpSignIn(settings)
        signin.secret()  # no password or token: stop before anything else
        copy = journal.back_up("cancel" if choice.selection.cancel else "send")
        job.backup = str(
            copy.relative_to(settings.base_dir) if copy.is_relative_to(settings.base_dir) else copy
        )
        under_way = _under_way(settings, plan.campaign.key)
        write_private(under_way, json.dumps(choice.as_form(), ensure_ascii=False).encode())
        # (a refused sign-in or TLS failure stops the run and leaves it under way: the job's page
        # says how far it came and what to do)
        report = send(inputs, journal, plan, now=now, limit=limit, progress=job.progress, signin=signin)
        under_way.unlink(missing_ok=True)  # ended: what failed is on its page
        return report


def _in_words(changed: Changes, w: dict[str, str]) -> list[str]:
    """Who and what changed between the summary and the button, in her words."""
    lines = [w["seen_chosen"]] if changed.chosen else []
    for key, emails in (
        ("seen_added", changed.added),
        ("seen_gone", changed.gone),
        ("seen_changed", changed.changed),
    ):
        if emails:
            lines.append(w[key].format(emails=some(emails, w["and_more"])))
    return lines + [w[f"seen_{part}"] for part in changed.parts]


def send_test_message(settings: Settings, choice: Choice, to: str, now: datetime) -> str:
    """`send --test-to`: the run's first message to `to` only; its subject."""
    inputs = load_inputs(settings, skip_invalid=True)
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        plan = make_plan(inputs, journal, choice.selection, now=now)
    return send_test(inputs, plan, to, now=now).subject
