"""Running a template's parts for one member, the plain way: `Parts` runs each part with Jinja2
every time, and puts an HTML body in the shared layout with its CSS inlined (Gmail and Outlook
drop `<style>`). `mailer.shapes.ShapedParts` gives the same output, running parts as seldom as it
can; `MAILER_PLAIN=1` (the setting `plain`) chooses this one.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import css_inline
import jinja2
from jinja2.sandbox import SecurityError
from markupsafe import Markup

from mailer.errors import TemplateError
from mailer.markdown import markdown_parts
from mailer.variables import UnknownName, explain

LAYOUT = "_layout.html"
# @media rules cannot be inlined; they stay in a <style> for the clients that read it.
# Remote stylesheets are never fetched while building messages.
INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
WHOLE_DOCUMENT = re.compile(r"<html[\s>]", re.IGNORECASE)
PartKey = tuple[str, str]  # (language, part file); the layout is ("", LAYOUT)


class Parts:
    """A template's parts run for one member at a time. `known` (keys already made of a
    member's values, shared by the parts rendered with them) is for the fast path."""

    def __init__(self, folder: Path, layout: jinja2.Template | None) -> None:
        self.folder = folder  # the templates folder, which the parts' names are relative to
        self.layout = layout  # the layout as a child template that puts `body` in it

    def output(
        self, template: jinja2.Template, values: Mapping[str, Any], key: PartKey, known: dict[str, Hashable]
    ) -> str:
        """A part's output for one member."""
        return self.run(template, values)

    def check(
        self, template: jinja2.Template, values: Mapping[str, Any], key: PartKey, known: dict[str, Hashable]
    ) -> None:
        """Whether a part runs for one member (its TemplateError if not)."""
        self.run(template, values)

    def markdown(self, source: str) -> tuple[str, str]:
        """A Markdown body's (plain text, HTML fragment)."""
        return markdown_parts(source)

    def page(self, html: str, values: Mapping[str, Any], known: dict[str, Hashable]) -> str:
        """The member's HTML page made of their HTML body."""
        return self.whole_page(html, values)

    def whole_page(self, html: str, values: Mapping[str, Any]) -> str:
        """The body in the layout (unless it is a whole document), its CSS inlined."""
        if self.layout is not None and not WHOLE_DOCUMENT.search(html):
            html = self.run(self.layout, {**values, "body": Markup(html)})
        if "<style" not in html:
            return html
        try:
            return str(INLINER.inline(html))
        except css_inline.InlineError as err:
            raise TemplateError(f"CSS cannot be inlined: {err}", path=self.folder / LAYOUT) from err

    def run(self, template: jinja2.Template, values: Mapping[str, Any]) -> str:
        """The part rendered; its errors name the file and line, in the coordinator's words."""
        try:
            return template.render(values)
        except jinja2.TemplateError as err:
            if isinstance(err, UnknownName):
                message = explain(err, values)
            elif isinstance(err, SecurityError):
                message = (
                    f"this template does something templates may not ({err}): a template reads the "
                    "data it is given and changes nothing; remove that part, or ask whoever wrote it"
                )
            else:
                message = str(err)
            # The layout is rendered through an unnamed child; its errors belong to _layout.html.
            raise TemplateError(
                message, path=self.folder / (template.name or LAYOUT), line=_error_line(err)
            ) from err


def _error_line(err: BaseException) -> int | None:
    """The template line a render error happened on, from Jinja2's traceback rewriting."""
    tb = err.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith((".txt", ".html", ".md")):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
