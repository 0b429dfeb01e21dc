"""Templates: the Jinja2 environment, per-language variants, and dates in the member's language.

A template is a folder `templates/NAME/` with one sub-folder per language (`da/`, `en/`),
each holding `subject.txt`, `body.txt` and optionally `body.html`. A member whose language
has no variant gets the sender's language.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from babel.dates import format_date, format_time
from pydantic import BaseModel, ConfigDict, ValidationError

from mailer.errors import TemplateError
from mailer.meetings import Meeting

BABEL_LOCALE = {"da": "da_DK", "en": "en_GB"}
AT = {"da": "kl.", "en": "at"}
PARTS = ("subject.txt", "body.txt", "body.html")


class TemplateSettings(BaseModel):
    """`templates/NAME/template.toml`: what kind of message the template makes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # request: an invitation (iMIP REQUEST); cancel: a cancellation (iMIP CANCEL);
    # publish: an "add to calendar" .ics for every upcoming meeting; none: plain message.
    calendar: Literal["request", "cancel", "publish", "none"] = "none"
    # A mailing to the whole list (newsletter): List-* and bulk headers, unsubscribe.
    bulk: bool = False
    # The template to use instead when the meeting is cancelled.
    on_cancel: str | None = None
    # Who gets it: every selected member, or only those invited to the meeting who
    # have not declined (a reminder).
    audience: Literal["members", "attending"] = "members"


@dataclass(frozen=True)
class Rendered:
    """One member's subject and bodies, ready to be put in a message."""

    subject: str
    text: str
    html: str | None


def long_date(moment: date, language: str) -> str:
    """'tirsdag den 21. september 2027' / 'Tuesday, 21 September 2027'."""
    return format_date(moment, "full", locale=BABEL_LOCALE.get(language, language))


def clock(moment: datetime, language: str) -> str:
    """'13.00' / '13:00'."""
    return format_time(moment, "short", locale=BABEL_LOCALE.get(language, language))


def long_datetime(moment: datetime, language: str) -> str:
    """'tirsdag den 21. september 2027 kl. 13.00'."""
    return f"{long_date(moment, language)} {AT.get(language, 'at')} {clock(moment, language)}"


@cache
def meeting_view(meeting: Meeting, language: str) -> dict[str, Any]:
    """A meeting as templates see it: every field, plus dates written for `language`."""
    view = meeting.model_dump()
    view.update(
        date=long_date(meeting.start, language),
        start_time=clock(meeting.start, language),
        end_time=clock(meeting.end, language),
        when=f"{long_datetime(meeting.start, language)}–{clock(meeting.end, language)}",
        cancelled=meeting.cancelled,
    )
    return view


def _language_of(context: Mapping[str, Any]) -> str:
    return str(context.get("language", "da"))


@jinja2.pass_context
def _date_filter(context: jinja2.runtime.Context, value: date) -> str:
    return long_date(value, _language_of(context))


@jinja2.pass_context
def _time_filter(context: jinja2.runtime.Context, value: datetime) -> str:
    return clock(value, _language_of(context))


@jinja2.pass_context
def _datetime_filter(context: jinja2.runtime.Context, value: datetime) -> str:
    return long_datetime(value, _language_of(context))


def environment(folder: Path) -> jinja2.Environment:
    """Strict (a misspelt variable is an error) and autoescaping HTML (CSV data is not trusted)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(date=_date_filter, time=_time_filter, datetime=_datetime_filter)
    return env


class MessageTemplate:
    """One named template in all its languages, compiled once."""

    def __init__(self, folder: Path, name: str, default_language: str) -> None:
        self.name = name
        self.folder = folder / name
        if name.startswith("_") or not self.folder.is_dir():
            known = ", ".join(available_templates(folder)) or "none"
            raise TemplateError(f"no template {name!r} (known: {known})", path=folder)
        self.default_language = default_language
        self.settings = _template_settings(self.folder / "template.toml")
        env = environment(folder)
        self._compiled: dict[str, dict[str, jinja2.Template]] = {}
        for variant in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            parts: dict[str, jinja2.Template] = {}
            for part in PARTS:
                if (variant / part).is_file():
                    relative = f"{name}/{variant.name}/{part}"
                    parts[part] = _compile(env, relative, folder)
            if parts:
                self._compiled[variant.name] = parts
        if default_language not in self._compiled:
            raise TemplateError(f"no {default_language!r} variant (the sender's language)", path=self.folder)
        for language, parts in self._compiled.items():
            for required in ("subject.txt", "body.txt"):
                if required not in parts:
                    raise TemplateError("missing", path=self.folder / language / required)

    @property
    def languages(self) -> list[str]:
        return sorted(self._compiled)

    def variant(self, language: str) -> str:
        """The language actually used for a member who reads `language`."""
        return language if language in self._compiled else self.default_language

    def render(self, language: str, context: Mapping[str, Any]) -> Rendered:
        """Render subject and bodies for one member; errors name the file and line."""
        used = self.variant(language)
        parts = self._compiled[used]
        values = {**context, "language": used}
        subject = " ".join(self._run(parts["subject.txt"], values).split())
        text = self._run(parts["body.txt"], values)
        html = self._run(parts["body.html"], values) if "body.html" in parts else None
        return Rendered(subject, text, html)

    def _run(self, template: jinja2.Template, values: Mapping[str, Any]) -> str:
        try:
            return template.render(values)
        except jinja2.TemplateError as err:
            raise TemplateError(
                str(err), path=self.folder.parent / (template.name or ""), line=_error_line(err)
            ) from err


def _template_settings(path: Path) -> TemplateSettings:
    if not path.is_file():
        return TemplateSettings()
    try:
        return TemplateSettings(**tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as err:
        raise TemplateError(f"not valid TOML: {err}", path=path) from err
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise TemplateError(first["msg"], path=path, field=field) from err


def _compile(env: jinja2.Environment, relative: str, folder: Path) -> jinja2.Template:
    try:
        return env.get_template(relative)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(err.message or str(err), path=folder / relative, line=err.lineno) from err


def _error_line(err: BaseException) -> int | None:
    """The template line a render error happened on, from Jinja2's traceback rewriting."""
    tb = err.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith((".txt", ".html", ".md")):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def available_templates(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))


def load_templates(folder: Path, names: Iterable[str], default_language: str) -> list[MessageTemplate]:
    return [MessageTemplate(folder, name, default_language) for name in names]
