r"""The fast path for templates: each part run as seldom as it can be, each member's output made
from a shape's output with their own data filled in, whenever that is provably the output the
plain path (`mailer.parts.Parts`: every part run for every member) gives. Once per shape: the
layout and the CSS inlining, and validation of parts without member data.

Within one delivery the members' contexts differ only in MEMBER_DATA. A sentinel context has
each non-blank string there replaced by a token ("\ue000", this process's nonce, the index,
"\ue001": private-use characters that autoescaping, Markdown and the inliner leave alone; the
nonce, so that no template or setting can write a token: any other "\ue000" or "\ue001" in an
output sends it the ordinary way). The sentinel body is put in the layout and inlined once; per
member, the real body (still rendered, since the template may branch on member data) must equal
the sentinel body with the member's strings in the token places, escaped as the body escapes
them; only then is the page the inlined sentinel page with the strings in place, escaped as the
inliner's serializer escapes text and attribute values. The HTML is then the same document with
other text in the same places, which CSS cannot tell apart as long as no selector looks at
attribute values or text and the tokens stand only in text and in a few attributes (href, src,
alt, title); `mailer.shape_proofs` checks all this. Anything else takes the plain path.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import count
from pathlib import Path
from typing import Any, NamedTuple

import css_inline
import jinja2
from markupsafe import Markup, escape

from mailer.errors import TemplateError
from mailer.markdown import markdown_parts
from mailer.parts import INLINER, LAYOUT, WHOLE_DOCUMENT, PartKey, Parts
from mailer.shape_keys import Unkeyable, freeze_names, member_data, member_key
from mailer.shape_proofs import (
    MEMBER_DATA,
    MEMBER_NAMES,
    NONCE,
    TOKEN,
    Source,
    html_part,
    inert_css,
    parse,
    token_places,
)

SHAPES = 256  # shapes kept per template language; further ones take the ordinary path
MEMO_SIZE = 4096  # validated (part, values) kept per template
# A Markdown source identical for many members (no personal greeting) is converted once.
_markdown_once = lru_cache(maxsize=64)(markdown_parts)


class ShapedParts(Parts):
    """`Parts` run as seldom as they can be: a part that reads no member data once per distinct
    input, one that uses member data only plainly once per shape of it, and each language's page
    (layout and CSS inlining) once per shape of member data."""

    def __init__(
        self,
        folder: Path,
        layout: jinja2.Template | None,
        env: jinja2.Environment,
        name: str,
        compiled: Mapping[str, Mapping[str, jinja2.Template]],
    ) -> None:
        super().__init__(folder, layout)
        layout_source = Source(parse(env, LAYOUT)) if layout is not None else None
        sources = {
            (language, part): Source(parse(env, f"{name}/{language}/{part}"))
            for language, parts in compiled.items()
            for part in parts
        }
        # What each part reads, for the validation memo (None: the part is always run).
        self._reads: dict[PartKey, tuple[str, ...] | None] = {
            key: source.memo_reads for key, source in sources.items()
        }
        layout_reads = layout_source.memo_reads if layout_source is not None else None
        self._reads["", LAYOUT] = None if layout_reads is None else tuple(sorted({*layout_reads, "body"}))
        self._validated: dict[Hashable, str] = {}  # what ran without error (and its output when kept)
        self._outputs: dict[Hashable, _Split | None] = {}  # parts' sentinel outputs, by shape
        self._member_checks = {key: source.member_check for key, source in sources.items()}
        self._shapes = {
            language: _ShapedPages(self, parts, sources[language, html_part(parts)], layout_source)
            for language, parts in compiled.items()
            if html_part(parts)
        }

    def output(
        self, template: jinja2.Template, values: Mapping[str, Any], key: PartKey, known: dict[str, Hashable]
    ) -> str:
        return self._output(template, values, key[1], known)

    def check(
        self, template: jinja2.Template, values: Mapping[str, Any], key: PartKey, known: dict[str, Hashable]
    ) -> None:
        self._run_once(template, values, *key, known=known)

    def markdown(self, source: str) -> tuple[str, str]:
        return _markdown_once(source)

    def page(self, html: str, values: Mapping[str, Any], known: dict[str, Hashable]) -> str:
        shapes = self._shapes.get(values["language"])
        page = shapes.page(html, values, known) if shapes is not None else None
        return page if page is not None else self.whole_page(html, values)

    def _run_once(
        self,
        template: jinja2.Template,
        values: Mapping[str, Any],
        language: str,
        part: str,
        *,
        known: dict[str, Hashable],
        keep: bool = False,
    ) -> str:
        """Run a part, unless it already ran without error on the very same values of everything
        it reads (a part that reads `recipient` always runs: that is different for everyone).
        `keep`: the output is wanted (and kept for the next time); otherwise "" on a repeat.
        `known`: keys already made of these values (filled in as they are made)."""
        reads = self._reads[language, part]
        try:
            if reads is not None:
                key: Hashable = (
                    values["language"],
                    language,
                    part,
                    keep,
                    *freeze_names(values, reads, known),
                )
            else:
                check = None if keep else self._member_checks.get((language, part))
                member = member_key(values, *check, known) if check is not None else None
                if member is None:
                    return self.run(template, values)
                key = (values["language"], language, part, keep, *member)
            hash(key)  # a tzinfo of its own may not be hashable
        except (Unkeyable, TypeError):
            return self.run(template, values)
        if key in self._validated:
            return self._validated[key]
        output = self.run(template, values)
        if len(self._validated) < MEMO_SIZE:
            self._validated[key] = output if keep else ""
        return output

    def _output(
        self, template: jinja2.Template, values: Mapping[str, Any], part: str, known: dict[str, Hashable]
    ) -> str:
        """A part's output for one member, run as seldom as it can be.

        A part that reads no member data runs once per distinct input. One that uses member
        data only plainly (see `mailer.shape_keys.member_key`) runs once per shape of that data, on a sentinel
        context; each member's output is that output with their strings in the tokens' places,
        escaped as the part escapes what it prints. Any other part, or once MEMO_SIZE shapes
        are kept, runs for the member. `known`: as for `_run_once`.
        """
        language = values["language"]
        reads = self._reads[language, part]
        if reads is not None and not MEMBER_NAMES.intersection(reads):
            return self._run_once(template, values, language, part, keep=True, known=known)
        check = self._member_checks.get((language, part))
        if check is None:
            return self.run(template, values)
        try:
            member = member_key(values, *check, known)
            if member is None:
                return self.run(template, values)
            key = (language, part, *member)
            hash(key)  # a tzinfo of its own may not be hashable
        except (Unkeyable, TypeError):
            return self.run(template, values)
        if key in self._outputs:
            split = self._outputs[key]
        elif len(self._outputs) < MEMO_SIZE:
            split = self._outputs[key] = self._split_output(template, values)
        else:
            split = None
        if split is None:
            return self.run(template, values)
        return _fill(split.pieces, split.slots, member_data(values, known)[1], split.escape)

    def _split_output(self, template: jinja2.Template, values: Mapping[str, Any]) -> _Split | None:
        """The part run on the sentinel context, split at the tokens (None: take the ordinary
        path, which raises the part's error for the member it fails for)."""
        sentinel, strings = _sentinel_context(values)
        try:
            output = self.run(template, sentinel)
        except TemplateError:
            return None
        split = TOKEN.split(output)
        if any("\ue000" in piece or "\ue001" in piece for piece in split[::2]):
            return None
        slots = tuple(int(n) for n in split[1::2])
        if any(slot >= strings for slot in slots):
            return None
        autoescape = template.environment.autoescape
        escaped = autoescape(template.name) if callable(autoescape) else autoescape
        return _Split(tuple(split[::2]), slots, _jinja_escape if escaped else str)


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
        return f"\ue000{NONCE}{next(numbers)}\ue001" if value.strip() else value
    if kind is dict:
        return {k: _sentinel(v, numbers) for k, v in value.items()}
    if kind is list or kind is tuple:
        return kind(_sentinel(v, numbers) for v in value)
    return value


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
class _ShapedPage:
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


class _ShapedPages:
    """One language of a template: the inlined page of each shape of member data seen so far."""

    def __init__(
        self,
        owner: ShapedParts,
        parts: Mapping[str, jinja2.Template],
        body: Source,
        layout: Source | None,
    ) -> None:
        self.owner = owner
        self.parts = parts
        self.markdown = "body.md" in parts
        self.built: dict[Hashable, _ShapedPage | None] = {}
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
            members, strings = member_data(values, known)
            key = (members, *freeze_names(values, self.names, known))
            hash(key)  # a tzinfo of its own may not be hashable
        except (Unkeyable, TypeError):
            return None
        if key in self.built:
            shape = self.built[key]
        elif len(self.built) < SHAPES:
            shape = self.built[key] = self._build(values)
        else:
            return None
        return shape.fill(html, strings) if shape is not None else None

    def _build(self, values: Mapping[str, Any]) -> _ShapedPage | None:
        sentinel, _ = _sentinel_context(values)
        owner = self.owner
        try:
            if self.markdown:
                body = owner.markdown(owner.run(self.parts["body.md"], sentinel))[1]
            else:
                body = owner.run(self.parts["body.html"], sentinel)
            page = body
            if owner.layout is not None and not WHOLE_DOCUMENT.search(body):
                if not self._prints_scalars(sentinel):
                    return None
                page = owner.run(owner.layout, {**sentinel, "body": Markup(body)})
        except TemplateError:
            return None  # the ordinary path raises it for the member it fails for
        if "<style" not in page or not inert_css(page):
            return None
        places = token_places(page)
        if places is None:
            return None
        try:
            inlined = str(INLINER.inline(page))
        except css_inline.InlineError:
            return None
        body_split = TOKEN.split(body)
        page_split = TOKEN.split(inlined)
        page_slots = tuple(int(n) for n in page_split[1::2])
        # The inliner's parser may move text (out of a <table>, say): every token must stand
        # where it stood, in text or in an attribute, or its escaping would be the wrong one.
        if token_places(inlined) != places or page_slots != tuple(n for n, _ in places):
            return None
        if any("\ue000" in p or "\ue001" in p for p in body_split[::2] + page_split[::2]):
            return None
        return _ShapedPage(
            body=tuple(body_split[::2]),
            body_slots=tuple(int(n) for n in body_split[1::2]),
            body_escape=_markdown_escape() if self.markdown else _jinja_escape,
            page=tuple(page_split[::2]),
            page_slots=page_slots,
            in_attribute=tuple(attribute for _, attribute in places),
        )

    def _prints_scalars(self, sentinel: Mapping[str, Any]) -> bool:
        """Whether all member data the layout prints is strings or other scalars (a printed
        dict or list shows the repr of its strings, which the tokens do not stand for)."""
        env = self.owner.layout.environment if self.owner.layout is not None else None
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


def _markdown_escape() -> Callable[[str], str]:
    """How markdown-it escapes text, imported where a template has Markdown."""
    from markdown_it.common.utils import escapeHtml

    return escapeHtml
