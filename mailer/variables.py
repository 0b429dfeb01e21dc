"""What a template can use, and the answer when it uses a name that does not exist: the names
that do, the closest one, and which name a column of the member list has in templates."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import partial
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError
from jinja2.utils import missing


class UnknownName(jinja2.UndefinedError):
    """A template used a variable, or a part of one, that does not exist."""

    def __init__(self, message: str | None = None, *, owner: Any = missing, name: Any = None) -> None:
        super().__init__(message)
        self.owner = owner
        self.name = name


class StrictNames(jinja2.StrictUndefined):
    """Jinja2's strict undefined, whose error says what was asked of what (for `explain`)."""

    __slots__ = ()

    def __init__(
        self, hint: str | None = None, obj: Any = missing, name: str | None = None, exc: Any = None
    ) -> None:
        # The sandbox's refusals (a private attribute, a method that changes data) stay refusals.
        raises = exc if exc is SecurityError else partial(UnknownName, owner=obj, name=name)
        super().__init__(hint, obj, name, raises)  # type: ignore[arg-type]  # called like the class


def explain(err: UnknownName, values: Mapping[str, Any]) -> str:
    """The coordinator's answer to an unknown name, from the values the template was given."""
    name = str(err.name)
    if err.owner is missing:
        known = sorted(values)
        return f"`{name}` does not exist{_closest(name, known, '')}; the variables are: {', '.join(known)}"
    owner = _name_of(err.owner, values)
    known = _names_in(err.owner)
    asked = f"`{owner}.{name}`" if owner else f"`{name}`"
    if owner == "recipient":
        from mailer.recipients import canonical_column  # only on this error: the list's own rules

        column = canonical_column(name)
        if column != name and column in known:
            return f'{asked} does not exist: a column headed "{name}" is `recipient.{column}` in templates'
    where = f"{owner}." if owner else ""
    have = f"; {owner or 'it'} has: {', '.join(known)}" if known else ""
    return f"{asked} does not exist{_closest(name, known, where)}{have}"


def _closest(name: str, known: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean `{prefix}{close[0]}`?)" if close else ""


def _name_of(owner: Any, values: Mapping[str, Any]) -> str:
    """Where `owner` is among the values (`recipient`, `meeting`), if it is one of them."""
    for key, value in values.items():
        if value is owner:
            return key
        if isinstance(value, Mapping):
            for inner, item in value.items():
                if item is owner:
                    return f"{key}.{inner}"
    return ""


def _names_in(owner: Any) -> list[str]:
    if isinstance(owner, Mapping):
        return sorted(str(key) for key in owner)
    return sorted(name for name in dir(owner) if not name.startswith("_"))
