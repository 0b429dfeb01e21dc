"""Templates: the Jinja2 environment, per-language variants, Markdown, the shared layout, and
dates in the member's language.

A template is a folder `templates/NAME/` with one sub-folder per language (`da/`, `en/`),
each holding `subject.txt` and either `body.md` (Markdown: both the HTML and the text part
are made from it) or `body.txt` plus optionally `body.html`. Every part is Jinja2 first. A
member whose language has no variant gets the sender's language. An HTML body that is not a
whole document is put in `templates/_layout.html` (block `content`), whose `<style>` is then
inlined into `style=""` attributes, because Gmail and Outlook drop `<style>`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import css_inline
import jinja2
from babel.dates import format_date, format_time
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, ValidationError

from mailer.errors import TemplateError
from mailer.meetings import Meeting

BABEL_LOCALE = {"da": "da_DK", "en": "en_GB"}
AT = {"da": "kl.", "en": "at"}
PARTS = ("subject.txt", "body.txt", "body.html", "body.md")
LAYOUT = "_layout.html"
# The body goes into the layout by inheritance, so the layout decides everything around it.
_LAYOUT_CHILD = '{% extends "' + LAYOUT + '" %}{% block content %}{{ body }}{% endblock %}'
# Raw HTML in Markdown is shown as text: member data reaches body.md unescaped.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "typographer": False})
# @media rules cannot be inlined; they stay in a <style> for the clients that read it.
# Remote stylesheets are never fetched while building messages.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
TEXT_WIDTH = 72


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
            _require_parts(self.folder / language, parts)
        self._layout: jinja2.Template | None = None
        if (folder / LAYOUT).is_file():
            _compile(env, LAYOUT, folder)  # syntax errors name _layout.html and its line
            self._layout = env.from_string(_LAYOUT_CHILD)

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
        values["subject"] = subject  # for the layout's <title>
        return self._bodies(parts, values, subject)

    def validate(self, language: str, context: Mapping[str, Any]) -> None:
        """Run every Jinja2 part for one member, without the Markdown and CSS work that
        cannot fail per member: the cheap check before a run that nothing will stop it."""
        used = self.variant(language)
        values = {**context, "language": used, "subject": ""}
        for template in self._compiled[used].values():
            self._run(template, values)
        if self._layout is not None:
            self._run(self._layout, {**values, "body": Markup("")})

    def _bodies(self, parts: Mapping[str, jinja2.Template], values: dict[str, Any], subject: str) -> Rendered:
        if "body.md" in parts:
            text, markdown = markdown_parts(self._run(parts["body.md"], values))
            html: str | None = markdown
        else:
            text = self._run(parts["body.txt"], values)
            html = self._run(parts["body.html"], values) if "body.html" in parts else None
        if html is not None:
            html = self._page(html, values)
        return Rendered(subject, text, html)

    def _page(self, html: str, values: Mapping[str, Any]) -> str:
        """The body in the layout (unless it is a whole document), its CSS inlined."""
        if self._layout is not None and not _WHOLE_DOCUMENT.search(html):
            html = self._run(self._layout, {**values, "body": Markup(html)})
        if "<style" not in html:
            return html
        try:
            return str(_INLINER.inline(html))
        except css_inline.InlineError as err:
            raise TemplateError(f"CSS cannot be inlined: {err}", path=self.folder.parent / LAYOUT) from err

    def _run(self, template: jinja2.Template, values: Mapping[str, Any]) -> str:
        try:
            return template.render(values)
        except jinja2.TemplateError as err:
            # The layout is rendered through an unnamed child; its errors belong to _layout.html.
            raise TemplateError(
                str(err), path=self.folder.parent / (template.name or LAYOUT), line=_error_line(err)
            ) from err


_WHOLE_DOCUMENT = re.compile(r"<html[\s>]", re.IGNORECASE)


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


@lru_cache(maxsize=64)
def markdown_parts(source: str) -> tuple[str, str]:
    """Markdown (CommonMark) to (plain text, HTML fragment), parsed once for both.

    Raw HTML in the source is escaped. Parsing is most of a newsletter's per-member cost,
    so a source identical for many members (no personal greeting) is converted once.
    """
    tokens = _MARKDOWN.parse(source)
    html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return _plain_text(SyntaxTreeNode(tokens)), str(html)


def markdown_text(source: str) -> str:
    """The Markdown as a plain-text part a member can read as it is.

    Headings become lines of their own, lists stay "- item" / "1. item", links and images
    become "text (url)", emphasis is dropped, paragraphs are wrapped at 72 columns.
    """
    return markdown_parts(source)[0]


def _plain_text(tree: SyntaxTreeNode) -> str:
    return "\n".join(_blocks(tree)).strip("\n") + "\n"


def _blocks(node: SyntaxTreeNode, width: int = TEXT_WIDTH) -> list[str]:
    """The lines of a container's child blocks, a blank line between blocks."""
    lines: list[str] = []
    tight = False  # a paragraph in a tight list is followed by no blank line
    for child in node.children:
        block = _block(child, width)
        if lines and block and not tight:
            lines.append("")
        lines += block
        tight = child.type == "paragraph" and child.hidden
    return lines


def _block(node: SyntaxTreeNode, width: int) -> list[str]:
    kind = node.type
    if kind in ("paragraph", "heading"):
        return _wrap(_inline(node.children[0]) if node.children else "", width)
    if kind in ("bullet_list", "ordered_list"):
        start = int(str(node.attrs.get("start", 1)))
        lines: list[str] = []
        for number, item in enumerate(node.children, start=start):
            marker = "- " if kind == "bullet_list" else f"{number}. "
            body = _blocks(item, max(width - len(marker), 20))
            lines += [
                (marker if index == 0 else " " * len(marker)) + line if line else ""
                for index, line in enumerate(body)
            ]
        return lines
    if kind == "blockquote":
        return ["> " + line if line else ">" for line in _blocks(node, width - 2)]
    if kind in ("fence", "code_block"):
        return ["    " + line for line in node.content.rstrip("\n").split("\n")]
    if kind == "hr":
        return ["-" * 20]
    return _blocks(node, width)


def _wrap(text: str, width: int) -> list[str]:
    """Wrap each hard-broken line at spaces; URLs and words are never split.

    Greedy and plain: textwrap cost ~5x more per message for the same result here.
    """
    lines: list[str] = []
    for hard in text.split("\n"):
        line = ""
        for word in hard.split():
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def _inline(node: SyntaxTreeNode) -> str:
    parts: list[str] = []
    for child in node.children:
        kind = child.type
        if kind in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind in ("link", "image"):
            label = _inline(child)
            url = str(child.attrs.get("href" if kind == "link" else "src", ""))
            shown = url.removeprefix("mailto:")
            parts.append(label if shown in ("", label) else f"{label} ({shown})" if label else shown)
        else:
            parts.append(_inline(child))
    return "".join(parts)
