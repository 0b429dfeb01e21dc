"""Markdown (CommonMark) to an HTML fragment and a plain-text part a member can read as it is.

Headings become lines of their own, lists stay "- item" / "1. item", links and images become
"text (url)", emphasis is dropped, paragraphs are wrapped at 72 columns. Raw HTML in the source
is shown as text: member data reaches body.md unescaped.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode

TEXT_WIDTH = 72


@cache
def _markdown() -> MarkdownIt:
    """The parser, made when a template first has Markdown (an invitation without any does not
    pay for importing markdown-it)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "typographer": False})


def markdown_parts(source: str) -> tuple[str, str]:
    """Markdown to (plain text, HTML fragment), parsed once for both."""
    from markdown_it.tree import SyntaxTreeNode

    markdown = _markdown()
    tokens = markdown.parse(source)
    html = markdown.renderer.render(tokens, markdown.options, {})
    return _plain_text(SyntaxTreeNode(tokens)), str(html)


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
