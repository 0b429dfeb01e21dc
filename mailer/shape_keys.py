"""Keys of what a template part reads, for the fast path (`mailer.shapes`): two values get equal
keys only when a part renders them alike, and member data is keyed by its shape (its structure
and blank strings, each other string a slot), so one run of a part serves every member whose
data has that shape."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from markupsafe import Markup

from mailer.shape_proofs import MEMBER_DATA, UNSAFE, Chain


class Unkeyable(Exception):
    """A value with no sound key: take the ordinary path."""


class _Missing:
    """A variable the context does not have."""


class _Slot:
    """A member's non-blank string: a token in the sentinel context."""


_MISSING = _Missing()
_SLOT = _Slot()


def freeze(value: Any) -> Hashable:
    """A key equal for two values only when they render the same (True is not 1, 0.0 not -0.0)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is dict:
        return (dict, *((freeze(k), freeze(v)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return (kind, *map(freeze, value))
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
    raise Unkeyable


def freeze_names(
    values: Mapping[str, Any], names: tuple[str, ...], known: dict[str, Hashable]
) -> tuple[Hashable, ...]:
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
        return freeze(value)
    found = _FROZEN.get(id(value))
    if found is not None and found[0] is value:
        _FROZEN.move_to_end(id(value))
        return found[1]
    frozen = freeze(value)
    _FROZEN[id(value)] = (value, frozen)
    if len(_FROZEN) > _FROZEN_SIZE:
        _FROZEN.popitem(last=False)
    return frozen


def member_key(
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
    return (member_data(values, known)[0], *freeze_names(values, others, known))


def member_data(values: Mapping[str, Any], known: dict[str, Hashable]) -> tuple[Hashable, tuple[str, ...]]:
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
    in `strings`, in the order `mailer.shapes` numbers its tokens)."""
    kind = type(value)
    if kind is str:
        if not value.strip():
            return value
        if UNSAFE.search(value) or value[0].isspace() or value[-1].isspace():
            raise Unkeyable  # (the HTML parser may move or drop whitespace at a text's ends)
        strings.append(value)
        return _SLOT
    if kind is dict:
        return (dict, *((freeze(k), _member_shape(v, strings)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return (kind, *(_member_shape(v, strings) for v in value))
    return freeze(value)
