"""A problem as the desk shows it: a heading, what is wrong and what to do next, in the
coordinator's language. The errors she meets most often from the desk (a form field, the upload,
the meeting over, nothing to send, the sign-in, the server, another send running) are told in her
words, keyed on the error's kind and field; any other keeps the program's own words, between a
heading and a next step in hers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mailer.check import MeetingWarning
from mailer.config import Settings
from mailer.desk.words import words
from mailer.errors import (
    AuthenticationError,
    BusyError,
    ConfigError,
    DeliveryError,
    MailerError,
    RecipientsError,
    ReplyError,
    SecurityError,
    TemplateError,
    UnreachableError,
)
from mailer.words import long_datetime


@dataclass(frozen=True)
class Problem:
    heading: str
    text: str  # what is wrong
    next: str  # what to do next
    detail: str = ""  # the program's own words (or the server's), where `text` does not hold them

    def __str__(self) -> str:
        return " ".join(part for part in (self.text, self.next) if part)


Rule = Callable[[MailerError, dict[str, str], Settings | None], Problem | None]


def explain(err: Exception, language: str, settings: Settings | None = None) -> Problem:
    """`err` as the coordinator reads it."""
    w = words(language)
    if not isinstance(err, MailerError):  # a file that could not be read or written
        return Problem(w["problem"], str(err), w["next_config"])
    for rule in RULES:
        found = rule(err, w, settings)
        if found is not None:
            return found
    return Problem(w["problem"], str(err), w[_next_for(err)])


def _next_for(err: MailerError) -> str:
    if isinstance(err, DeliveryError):
        return "next_delivery"
    if isinstance(err, RecipientsError):
        return "next_members"
    if isinstance(err, TemplateError):
        return "next_template"
    if isinstance(err, ReplyError):
        return "next_reply"
    return "next_config"


def _server(settings: Settings | None) -> tuple[str, str]:
    if settings is None:
        return "", ""
    return f"{settings.smtp.host}:{settings.smtp.port}", settings.smtp.username


def _reply(err: MailerError, w: dict[str, str]) -> str:
    if isinstance(err, DeliveryError) and err.reply:
        return w["server_said"].format(reply=f"{err.code or ''} {err.reply}".strip())
    return ""


def _busy(err: MailerError, w: dict[str, str], settings: Settings | None) -> Problem | None:
    if isinstance(err, BusyError):
        return Problem(w["busy"], w["busy_text"], w["busy_next"])
    return None


def _delivery(err: MailerError, w: dict[str, str], settings: Settings | None) -> Problem | None:
    server, account = _server(settings)
    if isinstance(err, AuthenticationError):
        xoauth2 = settings is not None and settings.smtp.auth_method == "xoauth2"
        return Problem(
            w["refused_signin"],
            w["refused_signin_text"].format(server=server, account=account),
            w["refused_token_next" if xoauth2 else "refused_password_next"],
            _reply(err, w),
        )
    if isinstance(err, UnreachableError):
        text = w["unreachable_text"].format(server=server)
        return Problem(w["unreachable"], text, w["unreachable_next"], f"{w['in_english']} {err.message}")
    if isinstance(err, SecurityError):
        return Problem(w["insecure"], "", w["insecure_next"], f"{w['in_english']} {err.message}")
    return None


def _meeting_title(settings: Settings | None, meeting_id: str) -> str:
    if settings is not None:
        for meeting in settings.meetings:
            if meeting.id == meeting_id:
                return meeting.title
    return meeting_id


def _config(err: MailerError, w: dict[str, str], settings: Settings | None) -> Problem | None:
    """config.toml's and the plan's refusals, by field."""
    if not isinstance(err, ConfigError):
        return None
    field, message = err.field or "", err.message
    server, account = _server(settings)
    if field == "smtp.password":
        text = w["no_password_text"].format(account=account, server=server)
        return Problem(w["no_password"], text, w["no_password_next"])
    over = re.fullmatch(r"meeting (.+), end", field)
    if over and message.startswith("the meeting is over") and settings is not None:
        meeting = next((m for m in settings.meetings if m.id == over.group(1)), None)
        ended = long_datetime(meeting.ends, settings.sender.language) if meeting else ""
        title = _meeting_title(settings, over.group(1))
        return Problem(w["over"], w["over_text"].format(title=title, ended=ended), w["over_next"])
    cancelled = re.match(r"meeting '(.+)' (is cancelled|was cancelled in members' calendars)", message)
    if field == "status" and cancelled:
        title = _meeting_title(settings, cancelled.group(1))
        if cancelled.group(2) == "is cancelled":
            text = w["cancelled_meeting_text"].format(title=title)
            return Problem(w["cancelled_meeting"], text, w["cancelled_meeting_next"])
        return Problem(w["cancelled_meeting"], w["reinstate_text"].format(title=title), w["reinstate_next"])
    if field == "--only" and message.endswith("is not in the member list"):
        address = message.removesuffix(" is not in the member list").strip("'")
        return Problem(w["problem"], w["not_on_list"].format(address=address), w["next_form"])
    if message.startswith("this template is about a meeting"):
        return Problem(w["problem"], w["needs_meeting"], w["next_form"])
    missing = re.match(r"no meeting '(.+?)' \(known", message)
    if missing:
        return Problem(w["problem"], w["no_such_meeting"].format(id=missing.group(1)), w["next_form"])
    return None


def _form(err: MailerError, w: dict[str, str], settings: Settings | None) -> Problem | None:
    """The desk's own forms: the choice of what to send, the meeting form, the upload."""
    field, message = err.field or "", err.message
    simple = {
        ("template", "choose a template"): "choose_template",
        ("meeting", "choose the meeting to cancel"): "choose_meeting_to_cancel",
        ("test_to", "write the address the test goes to"): "write_test_to",
        ("expected", "look at the summary first, then send"): "look_first",
        ("answer", "choose the answer: accepted, declined or tentative"): "choose_answer",
        ("file", "choose the file to upload"): "choose_file",
        ("id", "give the meeting an id, e.g. 2027-11-16-samskabelse"): "needs_id",
    }
    if (field, message) in simple:
        return Problem(w["problem"], w[simple[field, message]], w["next_form"])
    if field == "preview":
        return Problem(w["no_such_preview"], "", w["no_such_preview_next"])
    if field == "summary":  # the desk's own, already in her words
        return Problem(w["problem"], message, "")
    invited = re.fullmatch(r"(\S+) was not invited to (\S+): send the invitation first .*", message)
    if field == "answer" and invited:
        text = w["not_invited_answer"].format(
            address=invited.group(1), title=_meeting_title(settings, invited.group(2))
        )
        return Problem(w["problem"], text, w["not_invited_answer_next"])
    if message.startswith("there is no message to test"):
        return Problem(w["problem"], w["nothing_to_test"], w["nothing_to_test_next"])
    taken = re.fullmatch(r"there is a meeting (.+) already: choose another id", message)
    if field == "id" and taken:
        return Problem(w["problem"], w["id_taken"].format(id=taken.group(1)), w["next_form"])
    at = re.search(r"(?:\.|, )(start|end)$", field)  # `<id>.start` or `meeting <id>, start`
    if at and message == "the meeting needs a start":
        return Problem(w["problem"], w["needs_start"], w["next_form"])
    moment = re.fullmatch(
        r"'(.*)' is not a (time|date|day and time): write it as (\S+)(?: \(or (.+)\))?", message
    )
    if moment and at:
        key = "not_a_date" if moment.group(2) == "date" else "not_a_time"
        form = moment.group(3) + (f" ({w['or']} {moment.group(4)})" if moment.group(4) else "")
        text = f"{w['field_' + at.group(1)]}: " + w[key].format(text=moment.group(1), form=form)
        return Problem(w["problem"], text, w["next_form"])
    if field == "file":
        return _upload(message, w)
    return None


def _upload(message: str, w: dict[str, str]) -> Problem | None:
    not_a_list = re.fullmatch(r"(.+): not a member list: .*", message)
    if not_a_list:
        return Problem(w["problem"], w["not_a_list"].format(name=not_a_list.group(1)), w["not_replaced_next"])
    empty = re.fullmatch(r"(.+) has no member with a valid row: the list was not replaced", message)
    if empty:
        return Problem(w["problem"], w["no_members_in"].format(name=empty.group(1)), w["not_replaced_next"])
    changed = re.fullmatch(r"(.+) changed since (.+) was uploaded: .*", message)
    if changed:
        text = w["upload_changed"].format(current=changed.group(1), name=changed.group(2))
        return Problem(w["problem"], text, w["upload_again"])
    return None


RULES: tuple[Rule, ...] = (_busy, _delivery, _config, _form)


def warning_words(warning: MeetingWarning, language: str) -> str:
    """What `check` warns of about a meeting, in her words."""
    w = words(language)
    meeting = warning.meeting
    if warning.kind == "over":
        return w["over_text"].format(title=meeting.title, ended=long_datetime(meeting.ends, language))
    key = {"changed": "update_due", "cancelled-elsewhere": "cancelled_elsewhere"}.get(warning.kind)
    return w[key].format(title=meeting.title) if key else warning.text
