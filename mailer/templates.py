"""Templates: loading a template folder (its languages, settings and parts), compiling it in
Jinja2's sandbox, and rendering or checking it for one member; its date filters write dates as
`mailer.words` does.

A template is a folder `templates/NAME/` with one sub-folder per language (`da/`, `en/`),
each holding `subject.txt` and either `body.md` (Markdown: both the HTML and the text part
are made from it) or `body.txt` plus optionally `body.html`. Every part is Jinja2 first. A
member whose language has no variant gets the sender's language. An HTML body that is not a
whole document is put in `templates/_layout.html` (block `content`), its CSS inlined.

How the parts are run is `mailer.parts.Parts` (every part for every member, the plain path) or
`mailer.shapes.ShapedParts` (as seldom as provably gives the same output): one switch chooses.
"""

from __future__ import annotations

import tomllib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, ValidationError

from mailer.errors import TemplateError
from mailer.meetings import Meeting
from mailer.parts import LAYOUT, Parts
from mailer.shapes import ShapedParts
from mailer.variables import StrictNames
from mailer.words import clock, long_date, long_datetime, when

PARTS = ("subject.txt", "body.txt", "body.html", "body.md")
# The body goes into the layout by inheritance, so the layout decides everything around it.
_LAYOUT_CHILD = '{% extends "' + LAYOUT + '" %}{% block content %}{{ body }}{% endblock %}'


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


@cache
def meeting_view(meeting: Meeting, language: str) -> dict[str, Any]:
    """A meeting as templates see it: every field, plus dates written for `language`."""
    view = meeting.model_dump()
    view.update(
        date=long_date(meeting.first_day, language),
        start_time=clock(meeting.start, language) if isinstance(meeting.start, datetime) else "",
        end_time=clock(meeting.end, language) if isinstance(meeting.end, datetime) else "",
        when=when(meeting, language),
        cancelled=meeting.cancelled,
    )
    return view


def _language_of(context: jinja2.runtime.Context | Mapping[str, Any]) -> str:
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
    """Strict (a misspelt variable is an error), autoescaping HTML (CSV data is not trusted), and
    sandboxed: a template folder is often copied from someone else, so a template reads no private
    attribute (no way into Python from `cycler.__init__`, no member data through Jinja's private
    context) and changes no shared data (`meeting.update(...)` would reach other members)."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folder, encoding="utf-8-sig"),  # a Windows editor's BOM dropped
        undefined=StrictNames,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(date=_date_filter, time=_time_filter, datetime=_datetime_filter)
    return env


class MessageTemplate:
    """One named template in all its languages, compiled once."""

    def __init__(self, folder: Path, name: str, default_language: str, *, plain: bool = False) -> None:
        """`plain`: every part run by Jinja2 for every member (`Parts`), the path the fast one
        (`ShapedParts`) must equal."""
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
            _require_parts(self.folder / language, parts)
        self._layout: jinja2.Template | None = None
        if (folder / LAYOUT).is_file():
            _compile(env, LAYOUT, folder)  # syntax errors name _layout.html and its line
            self._layout = env.from_string(_LAYOUT_CHILD)
        self._parts = (
            Parts(folder, self._layout)
            if plain
            else ShapedParts(folder, self._layout, env, name, self._compiled)
        )

    @property
    def languages(self) -> list[str]:
        return sorted(self._compiled)

    def variant(self, language: str) -> str:
        """The language actually used for a member who reads `language`."""
        return language if language in self._compiled else self.default_language

    def render(self, language: str, context: Mapping[str, Any]) -> Rendered:
        """Render subject and bodies for one member; errors name the file and line."""
        used = self.variant(language)
        parts, run = self._compiled[used], self._parts
        values = {**context, "language": used}
        subject = " ".join(run.output(parts["subject.txt"], values, (used, "subject.txt"), {}).split())
        values["subject"] = subject  # for the layout's <title>
        known: dict[str, Hashable] = {}  # keys of the values (the subject among them) for every part
        html: str | None = None
        if "body.md" in parts:
            text, html = run.markdown(run.output(parts["body.md"], values, (used, "body.md"), known))
        else:
            text = run.output(parts["body.txt"], values, (used, "body.txt"), known)
            if "body.html" in parts:
                html = run.output(parts["body.html"], values, (used, "body.html"), known)
        return Rendered(subject, text, run.page(html, values, known) if html is not None else None)

    def validate(self, language: str, context: Mapping[str, Any]) -> None:
        """Run every Jinja2 part for one member, without the Markdown and CSS work that
        cannot fail per member: the cheap check before a run that nothing will stop it."""
        used = self.variant(language)
        values = {**context, "language": used, "subject": ""}
        known: dict[str, Hashable] = {}  # keys of values several parts read, made once
        for part, template in self._compiled[used].items():
            self._parts.check(template, values, (used, part), known)
        if self._layout is not None:
            self._parts.check(self._layout, {**values, "body": Markup("")}, ("", LAYOUT), known)


def _require_parts(variant: Path, parts: Mapping[str, jinja2.Template]) -> None:
    """subject.txt, and body.md or body.txt; body.md makes both bodies, so it stands alone."""
    if "subject.txt" not in parts:
        raise TemplateError("missing", path=variant / "subject.txt")
    if "body.md" in parts:
        for made in ("body.txt", "body.html"):
            if made in parts:
                raise TemplateError("body.md makes this part: keep one of the two", path=variant / made)
    elif "body.txt" not in parts:
        raise TemplateError("missing (or write body.md)", path=variant / "body.txt")


def _template_settings(path: Path) -> TemplateSettings:
    if not path.is_file():
        return TemplateSettings()
    try:
        return TemplateSettings(**tomllib.loads(path.read_text(encoding="utf-8-sig")))
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


def available_templates(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))
