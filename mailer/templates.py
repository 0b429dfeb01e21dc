"""Templates: the Jinja2 environment, per-language variants, Markdown and the shared layout;
its date filters write dates as `mailer.words` does.

A template is a folder `templates/NAME/` with one sub-folder per language (`da/`, `en/`),
each holding `subject.txt` and either `body.md` (Markdown: both the HTML and the text part
are made from it) or `body.txt` plus optionally `body.html`. Every part is Jinja2 first. A
member whose language has no variant gets the sender's language. An HTML body that is not a
whole document is put in `templates/_layout.html` (block `content`), whose `<style>` is then
inlined into `style=""` attributes, because Gmail and Outlook drop `<style>`.

A run renders the same template for thousands of members whose messages differ only in their
own data, so the layout and the CSS inlining are done once per *shape* of message (see
`_Shapes`): a sentinel member whose every string is a unique token, inlined once, then filled
in per member, whenever it is provably the page the member would get otherwise. `validate`
likewise runs a part that cannot see member data once per distinct value of what it reads.
"""

from __future__ import annotations

import re
import secrets
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, cached_property, lru_cache
from html.parser import HTMLParser
from itertools import count
from pathlib import Path, PurePath
from typing import Any, Literal, NamedTuple

import css_inline
import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.tree import SyntaxTreeNode
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, ValidationError

from mailer.errors import TemplateError
from mailer.meetings import Meeting
from mailer.variables import StrictNames, UnknownName, explain
from mailer.words import clock, long_date, long_datetime, when

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


@cache
def meeting_view(meeting: Meeting, language: str) -> dict[str, Any]:
    """A meeting as templates see it: every field, plus dates written for `language`."""
    view = meeting.model_dump()
    view.update(
        date=long_date(meeting.start, language),
        start_time=clock(meeting.start, language),
        end_time=clock(meeting.end, language),
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
        loader=jinja2.FileSystemLoader(folder),
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
        """`plain`: every part run by Jinja2 for every member (no outputs per shape, no
        validation memo, no page per shape): the path the fast one must equal."""
        self.name = name
        self.plain = plain
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
        layout_source: _Source | None = None
        if (folder / LAYOUT).is_file():
            _compile(env, LAYOUT, folder)  # syntax errors name _layout.html and its line
            self._layout = env.from_string(_LAYOUT_CHILD)
            layout_source = _Source(_parse(env, LAYOUT))
        sources = {
            (language, part): _Source(_parse(env, f"{name}/{language}/{part}"))
            for language, parts in self._compiled.items()
            for part in parts
        }
        # What each part reads, for the validation memo (None: the part is always run).
        self._reads: dict[tuple[str, str], tuple[str, ...] | None] = {
            key: source.memo_reads for key, source in sources.items()
        }
        layout_reads = layout_source.memo_reads if layout_source is not None else None
        self._reads["", LAYOUT] = None if layout_reads is None else tuple(sorted({*layout_reads, "body"}))
        self._validated: dict[Hashable, str] = {}  # what ran without error (and its output when kept)
        self._outputs: dict[Hashable, _Split | None] = {}  # parts' sentinel outputs, by shape
        self._member_checks = {key: source.member_check for key, source in sources.items()}
        self._shapes = {
            language: _Shapes(self, parts, sources[language, _html_part(parts)], layout_source)
            for language, parts in self._compiled.items()
            if _html_part(parts)
        }

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
        if self.plain:
            subject = " ".join(self._run(parts["subject.txt"], values).split())
            values["subject"] = subject
            return self._plain_bodies(parts, values, subject)
        subject = " ".join(self._output(parts["subject.txt"], values, "subject.txt", {}).split())
        values["subject"] = subject  # for the layout's <title>
        return self._bodies(parts, values, subject)

    def _plain_bodies(
        self, parts: Mapping[str, jinja2.Template], values: dict[str, Any], subject: str
    ) -> Rendered:
        if "body.md" in parts:
            plain_text, fragment = markdown_parts.__wrapped__(self._run(parts["body.md"], values))
            return Rendered(subject, plain_text, self._page(fragment, values))
        text = self._run(parts["body.txt"], values)
        html = self._page(self._run(parts["body.html"], values), values) if "body.html" in parts else None
        return Rendered(subject, text, html)

    def validate(self, language: str, context: Mapping[str, Any]) -> None:
        """Run every Jinja2 part for one member, without the Markdown and CSS work that
        cannot fail per member: the cheap check before a run that nothing will stop it."""
        used = self.variant(language)
        values = {**context, "language": used, "subject": ""}
        if self.plain:
            for template in self._compiled[used].values():
                self._run(template, values)
            if self._layout is not None:
                self._run(self._layout, {**values, "body": Markup("")})
            return
        known: dict[str, Hashable] = {}  # keys of values several parts read, made once
        for part, template in self._compiled[used].items():
            self._run_once(template, values, used, part, known=known)
        if self._layout is not None:
            self._run_once(self._layout, {**values, "body": Markup("")}, "", LAYOUT, known=known)

    def _run_once(
        self,
        template: jinja2.Template,
        values: Mapping[str, Any],
        language: str,
        part: str,
        *,
        keep: bool = False,
        known: dict[str, Hashable] | None = None,
    ) -> str:
        """Run a part, unless it already ran without error on the very same values of everything
        it reads (a part that reads `recipient` always runs: that is different for everyone).
        `keep`: the output is wanted (and kept for the next time); otherwise "" on a repeat.
        `known`: keys already made of these values (filled in as they are made)."""
        reads = self._reads[language, part]
        known = {} if known is None else known
        try:
            if reads is not None:
                key: Hashable = (
                    values["language"],
                    language,
                    part,
                    keep,
                    *_freeze_names(values, reads, known),
                )
            else:
                check = None if keep else self._member_checks.get((language, part))
                member = _member_key(values, *check, known) if check is not None else None
                if member is None:
                    return self._run(template, values)
                key = (values["language"], language, part, keep, *member)
            hash(key)  # a tzinfo of its own may not be hashable
        except (_Unkeyable, TypeError):
            return self._run(template, values)
        if key in self._validated:
            return self._validated[key]
        output = self._run(template, values)
        if len(self._validated) < MEMO_SIZE:
            self._validated[key] = output if keep else ""
        return output

    def _output(
        self, template: jinja2.Template, values: Mapping[str, Any], part: str, known: dict[str, Hashable]
    ) -> str:
        """A part's output for one member, run as seldom as it can be.

        A part that reads no member data runs once per distinct input. One that uses member
        data only plainly (see `_member_key`) runs once per shape of that data, on a sentinel
        context; each member's output is that output with their strings in the tokens' places,
        escaped as the part escapes what it prints. Any other part, or once MEMO_SIZE shapes
        are kept, runs for the member. `known`: as for `_run_once`.
        """
        language = values["language"]
        reads = self._reads[language, part]
        if reads is not None and not _MEMBER_NAMES.intersection(reads):
            return self._run_once(template, values, language, part, keep=True, known=known)
        check = self._member_checks.get((language, part))
        if check is None:
            return self._run(template, values)
        try:
            member = _member_key(values, *check, known)
            if member is None:
                return self._run(template, values)
            key = (language, part, *member)
            hash(key)  # a tzinfo of its own may not be hashable
        except (_Unkeyable, TypeError):
            return self._run(template, values)
        if key in self._outputs:
            split = self._outputs[key]
        elif len(self._outputs) < MEMO_SIZE:
            split = self._outputs[key] = self._split_output(template, values)
        else:
            split = None
        if split is None:
            return self._run(template, values)
        return _fill(split.pieces, split.slots, _member_data(values, known)[1], split.escape)

    def _split_output(self, template: jinja2.Template, values: Mapping[str, Any]) -> _Split | None:
        """The part run on the sentinel context, split at the tokens (None: take the ordinary
        path, which raises the part's error for the member it fails for)."""
        sentinel, strings = _sentinel_context(values)
        try:
            output = self._run(template, sentinel)
        except TemplateError:
            return None
        split = _TOKEN.split(output)
        if any("\ue000" in piece or "\ue001" in piece for piece in split[::2]):
            return None
        slots = tuple(int(n) for n in split[1::2])
        if any(slot >= strings for slot in slots):
            return None
        autoescape = template.environment.autoescape
        escaped = autoescape(template.name) if callable(autoescape) else autoescape
        return _Split(tuple(split[::2]), slots, _jinja_escape if escaped else str)

    def _bodies(self, parts: Mapping[str, jinja2.Template], values: dict[str, Any], subject: str) -> Rendered:
        known: dict[str, Hashable] = {}  # keys of the values (the subject among them) for every part
        if "body.md" in parts:
            text, markdown = markdown_parts(self._output(parts["body.md"], values, "body.md", known))
            html: str | None = markdown
        else:
            text = self._output(parts["body.txt"], values, "body.txt", known)
            html = None
            if "body.html" in parts:
                html = self._output(parts["body.html"], values, "body.html", known)
        if html is not None:
            shapes = self._shapes.get(values["language"])
            page = shapes.page(html, values, known) if shapes is not None else None
            html = page if page is not None else self._page(html, values)
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
            if isinstance(err, UnknownName):
                message = explain(err, values)
            elif isinstance(err, SecurityError):
                message = (
                    f"this template does something templates may not ({err}): a template reads the "
                    "data it is given and changes nothing; remove that part, or ask whoever wrote it"
                )
            else:
                message = str(err)
            raise TemplateError(
                message, path=self.folder.parent / (template.name or LAYOUT), line=_error_line(err)
            ) from err


_WHOLE_DOCUMENT = re.compile(r"<html[\s>]", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Once per shape: the layout and the CSS inlining, and validation of parts without member data.
#
# Within one delivery the members' contexts differ only in MEMBER_DATA. A sentinel context has
# each non-blank string there replaced by a token ("\ue000", this process's nonce, the index,
# "\ue001": private-use characters that autoescaping, Markdown and the inliner leave alone; the
# nonce, so that no template or setting can write a token: any other "\ue000" or "\ue001" in an
# output sends it the ordinary way). The sentinel body is put
# in the layout and inlined once; per member, the real body (still rendered, since the template
# may branch on member data) must equal the sentinel body with the member's strings in the token
# places, escaped as the body escapes them; only then is the page the inlined sentinel page with
# the strings in place, escaped as the inliner's serializer escapes text and attribute values.
# The HTML is then the same document with other text in the same places, which CSS cannot tell
# apart as long as no selector looks at attribute values or text and the tokens stand only in
# text and in a few attributes (href, src, alt, title). Anything else takes the ordinary path.

MEMBER_DATA = ("recipient", "unsubscribe")  # what differs between members of one delivery
_MEMBER_NAMES = frozenset(MEMBER_DATA)
SHAPES = 256  # shapes kept per template language; further ones take the ordinary path
MEMO_SIZE = 4096  # validated (part, values) kept per template
_NONCE = secrets.token_hex(8)
_TOKEN = re.compile(f"\ue000{_NONCE}([0-9]+)\ue001")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ue000\ue001\ud800-\udfff]")  # changed by the HTML parser
_TOKEN_ATTRIBUTES = frozenset({"href", "src", "alt", "title"})
_TOKEN_FREE_TAGS = frozenset({"link", "style", "base", "meta", "script"})
# Elements whose content the HTML parser or serializer treat other than as text.
_SPECIAL_CONTENT = re.compile(
    r"<(script|xmp|iframe|noembed|noframes|plaintext|noscript|template|textarea|svg|math|link)\b", re.I
)
_BEFORE_TOKEN = re.compile(r"(&[#\w]*|<[!/?]?[\w-]*)\Z")  # a token here would change the markup
# Pseudo-classes that look at the document's structure only, never at text or attribute values.
_STRUCTURAL = frozenset(
    re.split(
        r"\s+",
        "first-child last-child only-child first-of-type last-of-type only-of-type nth-child "
        "nth-last-child nth-of-type nth-last-of-type root link any-link visited hover active focus "
        "focus-within focus-visible not is where before after first-line first-letter marker",
    )
)
_REJECTED_NODES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
# Where member data may stand in a layout that is not rendered per member: printed as it is,
# or tested for truth or definedness (which the shape decides).
_PLAIN_BLOCKED = (
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.AssignBlock,
    nodes.Call,
    nodes.EvalContextModifier,  # {% autoescape false %}: printed raw, not as the page shape escapes
)


class _Unkeyable(Exception):
    """A value with no sound key: take the ordinary path."""


class _Missing:
    """A variable the context does not have."""


class _Slot:
    """A member's non-blank string: a token in the sentinel context."""


_MISSING = _Missing()
_SLOT = _Slot()


def _freeze(value: Any) -> Hashable:
    """A key equal for two values only when they render the same (True is not 1, 0.0 not -0.0)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is dict:
        return (dict, *((_freeze(k), _freeze(v)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return (kind, *map(_freeze, value))
    if value is None or kind is bool or kind is int:
        return (kind, value)
    if kind is datetime or kind is time:
        return (kind, value, value.tzinfo)  # equal instants in other zones are written otherwise
    if kind is date or kind is timedelta:
        return (kind, value)
    if kind is float or kind is Decimal or kind is Markup:
        return (kind, str(value))
    if isinstance(value, PurePath):
        return (kind, str(value))
    raise _Unkeyable


def _freeze_names(
    values: Mapping[str, Any], names: tuple[str, ...], known: dict[str, Hashable] | None = None
) -> tuple[Hashable, ...]:
    if known is None:
        return tuple(_freeze_shared(values[n]) if n in values else _MISSING for n in names)
    keys = []
    for name in names:
        key = known.get(name)
        if key is None:
            key = known[name] = _freeze_shared(values[name]) if name in values else _MISSING
        keys.append(key)
    return tuple(keys)


# The same dict or list reaches every member's context (the meeting as templates see it, the
# sender): its key is made once. Entries hold their object, so an id cannot be reused while
# it is here; objects made afresh per member drop out of the small LRU.
_FROZEN: OrderedDict[int, tuple[Any, Hashable]] = OrderedDict()
_FROZEN_SIZE = 32


def _freeze_shared(value: Any) -> Hashable:
    if type(value) is not dict and type(value) is not list:
        return _freeze(value)
    found = _FROZEN.get(id(value))
    if found is not None and found[0] is value:
        _FROZEN.move_to_end(id(value))
        return found[1]
    frozen = _freeze(value)
    _FROZEN[id(value)] = (value, frozen)
    if len(_FROZEN) > _FROZEN_SIZE:
        _FROZEN.popitem(last=False)
    return frozen


def _member_key(
    values: Mapping[str, Any],
    others: tuple[str, ...],
    uses: list[tuple[str, Chain, bool]],
    known: dict[str, Hashable],
) -> tuple[Hashable, ...] | None:
    """Whether a part that uses member data only plainly runs without error for this member
    depends on nothing but this key (None: no such key, run the part for the member).

    A non-blank string printed or tested for truth behaves alike whatever its text; so the
    key holds the member data's structure, its blank strings and other values, and the values
    of everything else the part reads. A lookup that goes into a string (a character of a
    name), a list or a dict's own methods is decided by the text: no key then.
    """
    for name, steps, printed in uses:
        value = values.get(name, _MISSING)
        for _, step in steps:
            if value is _MISSING:
                break  # undefined: the structure in the key decides
            if type(value) is not dict or hasattr(dict, str(step)):
                return None
            value = value.get(step, _MISSING)
        if printed and value is not _MISSING and type(value) not in (str, int, float, bool, type(None)):
            return None
    return (_member_data(values, known)[0], *_freeze_names(values, others, known))


def _member_data(values: Mapping[str, Any], known: dict[str, Hashable]) -> tuple[Hashable, tuple[str, ...]]:
    """The shape of the member data in `values` and its strings (see `_member_shape`), made
    once for all parts rendered or checked with these values."""
    found = known.get("\0members")
    if found is None:
        strings: list[str] = []
        shapes = tuple(_member_shape(values[n], strings) if n in values else _MISSING for n in MEMBER_DATA)
        found = known["\0members"] = (shapes, tuple(strings))
    assert isinstance(found, tuple)
    return found


def _member_shape(value: Any, strings: list[str]) -> Hashable:
    """Member data's key: its structure and blank strings, each other string a slot (collected
    in `strings`, in the order `_sentinel` numbers them)."""
    kind = type(value)
    if kind is str:
        if not value.strip():
            return value
        if _UNSAFE.search(value) or value[0].isspace() or value[-1].isspace():
            raise _Unkeyable  # (the HTML parser may move or drop whitespace at a text's ends)
        strings.append(value)
        return _SLOT
    if kind is dict:
        return (dict, *((_freeze(k), _member_shape(v, strings)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return (kind, *(_member_shape(v, strings) for v in value))
    return _freeze(value)


def _sentinel_context(values: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """The values with each non-blank string of member data a token, and how many there are."""
    numbers = count()
    sentinel = {**values}
    for name in MEMBER_DATA:
        if name in values:
            sentinel[name] = _sentinel(values[name], numbers)
    return sentinel, next(numbers)


def _sentinel(value: Any, numbers: count[int]) -> Any:
    kind = type(value)
    if kind is str:
        return f"\ue000{_NONCE}{next(numbers)}\ue001" if value.strip() else value
    if kind is dict:
        return {k: _sentinel(v, numbers) for k, v in value.items()}
    if kind is list or kind is tuple:
        return kind(_sentinel(v, numbers) for v in value)
    return value


def _parse(env: jinja2.Environment, name: str) -> nodes.Template:
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return env.parse(source)


def _html_part(parts: Mapping[str, jinja2.Template]) -> str:
    return "body.md" if "body.md" in parts else "body.html" if "body.html" in parts else ""


def _deterministic(tree: nodes.Template) -> bool:
    """Whether the part's output is a function of the variables it reads: nothing included or
    imported (unseen by the analysis), no random filter, no lipsum, no method calls."""
    if any(True for _ in tree.find_all(_REJECTED_NODES)):
        return False
    if any(f.name == "random" for f in tree.find_all(nodes.Filter)):
        return False
    if any(n.name == "lipsum" for n in tree.find_all(nodes.Name)):
        return False
    return all(isinstance(call.node, nodes.Name) for call in tree.find_all(nodes.Call))


def _reads(tree: nodes.Template) -> frozenset[str] | None:
    """The context variables a part reads (None: not known for sure)."""
    return frozenset(meta.find_undeclared_variables(tree)) if _deterministic(tree) else None


class _Source:
    """A part's syntax tree and what the analyses below say of it, each worked out once."""

    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree

    @cached_property
    def reads(self) -> frozenset[str] | None:
        return _reads(self.tree)

    @cached_property
    def memo_reads(self) -> tuple[str, ...] | None:
        """What keys a validated part; None when it reads the member (it would never repeat)."""
        reads = self.reads
        return None if reads is None or "recipient" in reads else tuple(sorted(reads))

    @cached_property
    def plain_uses(self) -> list[tuple[str, Chain, bool]] | None:
        return _plain_uses(self.tree)

    @cached_property
    def member_check(self) -> tuple[tuple[str, ...], list[tuple[str, Chain, bool]]] | None:
        """For a part that reads member data only plainly: what else it reads, and its uses
        of member data (see `_member_key`); None otherwise."""
        reads, uses = self.reads, self.plain_uses
        if reads is None or uses is None or not set(MEMBER_DATA) & reads:
            return None
        return tuple(sorted(reads - set(MEMBER_DATA))), uses


Chain = tuple[tuple[bool, str | int], ...]  # (is an item, key) steps from a variable


def _plain_uses(tree: nodes.Template) -> list[tuple[str, Chain, bool]] | None:
    """Every use of member data in a template (the variable, its chain of lookups, whether it is
    printed or only tested), when printing it as it is and testing it for truth or definedness
    are all the template does with member data; None otherwise (or when it reads `body`)."""
    if any(True for _ in tree.find_all(_PLAIN_BLOCKED)):
        return None
    parents: dict[int, nodes.Node] = {}
    stack: list[nodes.Node] = [tree]
    while stack:
        current = stack.pop()
        for child in current.iter_child_nodes():
            parents[id(child)] = current
            stack.append(child)
    uses: list[tuple[str, Chain, bool]] = []
    for name in tree.find_all(nodes.Name):
        if name.name == "body":
            return None
        if name.name not in MEMBER_DATA:
            continue
        if name.ctx != "load":
            return None
        node: nodes.Node = name  # the variable, then the longest chain of lookups from it
        steps: list[tuple[bool, str | int]] = []
        parent = parents[id(node)]
        while True:
            if isinstance(parent, nodes.Getattr) and parent.node is node:
                steps.append((False, parent.attr))
            elif (
                isinstance(parent, nodes.Getitem)
                and isinstance(parent.arg, nodes.Const)
                and parent.node is node
            ):
                steps.append((True, parent.arg.value))
            else:
                break
            node, parent = parent, parents[id(parent)]
        use = _use(node, parent, parents)
        if use is None:
            return None
        uses.append((name.name, tuple(steps), use))
    return uses


def _use(node: nodes.Node, parent: nodes.Node, parents: dict[int, nodes.Node]) -> bool | None:
    """True: printed as it is; False: only tested; None: anything else."""
    while True:
        if isinstance(parent, nodes.Output):
            return True
        if isinstance(parent, nodes.Test):
            return False if parent.node is node and parent.name in ("defined", "undefined", "none") else None
        if isinstance(parent, (nodes.If, nodes.CondExpr)) and parent.test is node:
            return False
        if isinstance(parent, nodes.Not):
            return False
        if not isinstance(parent, (nodes.And, nodes.Or, nodes.CondExpr)):
            return None
        node, parent = parent, parents[id(parent)]  # the value may be this operand: follow it


class _TokenPlaces(HTMLParser):
    """Where the tokens stand in a page: (token, in an attribute) in document order, or
    `failed` when one stands anywhere else or where it could change the markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.places: list[tuple[int, bool]] = []
        self.failed = False
        self._style = False

    def _tokens(self, text: str, attribute: bool) -> None:
        found = [(int(m[1]), attribute) for m in _TOKEN.finditer(text)]
        if text.count("\ue000") != len(found) or text.count("\ue001") != len(found):
            self.failed = True
        self.places += found

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or ""
        if tag == "style":
            self._style = True
        if "\ue000" not in raw and "\ue001" not in raw:
            return
        unquoted = re.sub(r""""[^"]*"|'[^']*'""", "", raw)
        if tag in _TOKEN_FREE_TAGS or "\ue000" in unquoted or "\ue001" in unquoted:
            self.failed = True
        for name, value in attrs:
            marked = (
                "\ue000" in name or "\ue001" in name or "\ue000" in (value or "") or "\ue001" in (value or "")
            )
            if marked and name not in _TOKEN_ATTRIBUTES:
                self.failed = True
        self._tokens(raw, True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "style":
            self._style = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._style = False

    def handle_data(self, data: str) -> None:
        if self._style and ("\ue000" in data or "\ue001" in data):
            self.failed = True
        self._tokens(data, False)

    def _no_tokens(self, data: str) -> None:
        if "\ue000" in data or "\ue001" in data:
            self.failed = True

    def handle_comment(self, data: str) -> None:
        self._no_tokens(data)

    def handle_decl(self, decl: str) -> None:
        self._no_tokens(decl)

    def handle_pi(self, data: str) -> None:
        self._no_tokens(data)

    def unknown_decl(self, data: str) -> None:
        self._no_tokens(data)


def _token_places(page: str) -> list[tuple[int, bool]] | None:
    if _SPECIAL_CONTENT.search(page):
        return None
    for match in _TOKEN.finditer(page):
        start = match.start()
        since = max(page.rfind("&", 0, start), page.rfind("<", 0, start), 0)
        if _BEFORE_TOKEN.search(page, since, start):  # however long the reference or tag name
            return None
    parser = _TokenPlaces()
    parser.feed(page)
    parser.close()
    found = len(parser.places)
    if parser.failed or found != page.count("\ue000") or found != page.count("\ue001"):
        return None
    return parser.places


def _inert_css(page: str) -> bool:
    """Whether no selector of the page's <style> can tell one text or attribute value from another."""
    styles = re.findall(r"<style[^>]*>(.*?)</style", page, re.IGNORECASE | re.DOTALL)
    css = re.sub(r"/\*.*?\*/", "", "".join(styles), flags=re.DOTALL)
    if "[" in css or "\\" in css:
        return False
    for prelude in re.findall(r"([^{};]*)\{", css):
        if prelude.strip().startswith("@"):
            continue
        if any(p.lower() not in _STRUCTURAL for p in re.findall(r":+([\w-]+)", prelude)):
            return False
    return True


def _text(value: str) -> str:
    """A string as the inliner's serializer writes it in text."""
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    """A string as the inliner's serializer writes it in an attribute value."""
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace('"', "&quot;")


def _jinja_escape(value: str) -> str:
    return str(escape(value))


class _Split(NamedTuple):
    """A part's output on a sentinel context: the text between the tokens, the tokens' numbers,
    and how the part escapes what it prints."""

    pieces: tuple[str, ...]
    slots: tuple[int, ...]
    escape: Callable[[str], str]


def _fill(
    pieces: tuple[str, ...], slots: tuple[int, ...], strings: Sequence[str], how: Callable[[str], str]
) -> str:
    out = [pieces[0]]
    for piece, slot in zip(pieces[1:], slots, strict=True):
        out += (how(strings[slot]), piece)
    return "".join(out)


@dataclass(frozen=True)
class _Shape:
    """One shape's sentinel body and inlined page, split at the tokens."""

    body: tuple[str, ...]
    body_slots: tuple[int, ...]
    body_escape: Callable[[str], str]
    page: tuple[str, ...]
    page_slots: tuple[int, ...]
    in_attribute: tuple[bool, ...]

    def fill(self, html: str, strings: Sequence[str]) -> str | None:
        """The member's page, or None when the body is not the sentinel's with their strings."""
        if _fill(self.body, self.body_slots, strings, self.body_escape) != html:
            return None
        out = [self.page[0]]
        for piece, slot, attribute in zip(self.page[1:], self.page_slots, self.in_attribute, strict=True):
            out += ((_attribute if attribute else _text)(strings[slot]), piece)
        return "".join(out)


class _Shapes:
    """One language of a template: the inlined page of each shape of member data seen so far."""

    def __init__(
        self,
        template: MessageTemplate,
        parts: Mapping[str, jinja2.Template],
        body: _Source,
        layout: _Source | None,
    ) -> None:
        self.template = template
        self.parts = parts
        self.markdown = "body.md" in parts
        self.built: dict[Hashable, _Shape | None] = {}
        body_reads = body.reads
        layout_reads = layout.reads if layout is not None else frozenset[str]()
        uses = layout.plain_uses if layout is not None else []
        self.enabled = body_reads is not None and layout_reads is not None and uses is not None
        self.printed = [(name, steps) for name, steps, printed in uses or [] if printed]
        # The layout is not rendered per member: the key holds everything it and the body read.
        reads = (body_reads or frozenset()) | (layout_reads or frozenset())
        self.names = tuple(sorted(reads - {*MEMBER_DATA, "body", "language"}))

    def page(self, html: str, values: Mapping[str, Any], known: dict[str, Hashable]) -> str | None:
        """The member's inlined page, or None: take the ordinary path."""
        if not self.enabled:
            return None
        try:
            members, strings = _member_data(values, known)
            key = (members, *_freeze_names(values, self.names, known))
            hash(key)  # a tzinfo of its own may not be hashable
        except (_Unkeyable, TypeError):
            return None
        if key in self.built:
            shape = self.built[key]
        elif len(self.built) < SHAPES:
            shape = self.built[key] = self._build(values)
        else:
            return None
        return shape.fill(html, strings) if shape is not None else None

    def _build(self, values: Mapping[str, Any]) -> _Shape | None:
        sentinel, _ = _sentinel_context(values)
        template = self.template
        try:
            if self.markdown:
                body = markdown_parts(template._run(self.parts["body.md"], sentinel))[1]
            else:
                body = template._run(self.parts["body.html"], sentinel)
            page = body
            if template._layout is not None and not _WHOLE_DOCUMENT.search(body):
                if not self._prints_scalars(sentinel):
                    return None
                page = template._run(template._layout, {**sentinel, "body": Markup(body)})
        except TemplateError:
            return None  # the ordinary path raises it for the member it fails for
        if "<style" not in page or not _inert_css(page):
            return None
        places = _token_places(page)
        if places is None:
            return None
        try:
            inlined = str(_INLINER.inline(page))
        except css_inline.InlineError:
            return None
        body_split = _TOKEN.split(body)
        page_split = _TOKEN.split(inlined)
        page_slots = tuple(int(n) for n in page_split[1::2])
        # The inliner's parser may move text (out of a <table>, say): every token must stand
        # where it stood, in text or in an attribute, or its escaping would be the wrong one.
        if _token_places(inlined) != places or page_slots != tuple(n for n, _ in places):
            return None
        if any("\ue000" in p or "\ue001" in p for p in body_split[::2] + page_split[::2]):
            return None
        return _Shape(
            body=tuple(body_split[::2]),
            body_slots=tuple(int(n) for n in body_split[1::2]),
            body_escape=escapeHtml if self.markdown else _jinja_escape,
            page=tuple(page_split[::2]),
            page_slots=page_slots,
            in_attribute=tuple(attribute for _, attribute in places),
        )

    def _prints_scalars(self, sentinel: Mapping[str, Any]) -> bool:
        """Whether all member data the layout prints is strings or other scalars (a printed
        dict or list shows the repr of its strings, which the tokens do not stand for)."""
        env = self.template._layout.environment if self.template._layout is not None else None
        assert env is not None
        for name, steps in self.printed:
            value: Any = sentinel.get(name)
            for is_item, key in steps:
                if value is None or isinstance(value, jinja2.Undefined):
                    break
                value = env.getitem(value, key) if is_item else env.getattr(value, str(key))
            if isinstance(value, jinja2.Undefined) or value is None:
                continue
            if not isinstance(value, str | int | float | bool):
                return False
        return True


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
