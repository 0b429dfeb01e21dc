"""What makes a part's or a page's output, made once per shape of member data, provably what
each member would get otherwise (see `mailer.shapes`): analyses of a template's syntax tree (what
it reads, how it uses member data) and of a sentinel page (where the tokens stand, and whether its
CSS could tell one text from another).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from functools import cached_property
from html.parser import HTMLParser

import jinja2
from jinja2 import meta, nodes

MEMBER_DATA = ("recipient", "unsubscribe")  # what differs between members of one delivery
MEMBER_NAMES = frozenset(MEMBER_DATA)
NONCE = secrets.token_hex(8)
TOKEN = re.compile(f"\ue000{NONCE}([0-9]+)\ue001")
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ue000\ue001\ud800-\udfff]")  # changed by the HTML parser
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


def parse(env: jinja2.Environment, name: str) -> nodes.Template:
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return env.parse(source)


def html_part(parts: Mapping[str, jinja2.Template]) -> str:
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


class Source:
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
        found = [(int(m[1]), attribute) for m in TOKEN.finditer(text)]
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


def token_places(page: str) -> list[tuple[int, bool]] | None:
    if _SPECIAL_CONTENT.search(page):
        return None
    for match in TOKEN.finditer(page):
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


def inert_css(page: str) -> bool:
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
