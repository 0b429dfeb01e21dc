"""The member list: reading real CSV exports, validating addresses, merging duplicates."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from email_validator import EmailNotValidError, validate_email

from mailer.addresses import NoAsciiForm, address_key, ascii_form
from mailer.config import LANGUAGES
from mailer.errors import InvalidRows, RecipientsError
from mailer.exports import csv_delimiter, decode_export, read_table
from mailer.private import new_private

# Header spellings seen in real exports (Danish and English Excel, address books).
COLUMN_ALIASES = {
    "email": {"email", "mail", "emailaddress", "emailadresse", "mailadresse", "epost"},
    "name": {"name", "navn", "fullname", "fuldenavn", "fulde navn", "kontaktperson"},
    "organization": {"organization", "organisation", "org", "bibliotek", "library"},
    "language": {"language", "lang", "sprog"},
    "groups": {"groups", "group", "grupper", "gruppe", "tags"},
}
# Control characters other than tab, CR and LF (those have their own message), and Unicode's
# line and paragraph separators: invisible in a spreadsheet, they go raw into To and Subject
# and make the calendar's ATTENDEE line unreadable, so that clients drop it.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


# A language column as Danish lists write it: the language's name, in Danish or English.
LANGUAGE_NAMES = {"dansk": "da", "danish": "da", "engelsk": "en", "english": "en"}
# An address cell as Outlook and Excel give it: "Søren Ærø <soeren@koege.example>" (copied from
# Outlook) or "mailto:kirsten@vordingborg.example" (a hyperlink cell).
NAMED_ADDRESS = re.compile(r"(?P<name>[^<>]*?)\s*<\s*(?:mailto:)?(?P<address>[^\s<>]+)\s*>", re.IGNORECASE)
MAILTO = re.compile(r"mailto:\s*(?P<address>[^\s<>]+)", re.IGNORECASE)
ADDRESS_LIKE = re.compile(r"[^\s<>;,:\"'()\[\]]+@[^\s<>;,:\"'()\[\]]+")

NO_FIELDS: Mapping[str, str] = MappingProxyType({})
KNOWN = frozenset(COLUMN_ALIASES)


@dataclass(frozen=True, slots=True)
class Member:
    """One distinct member: an address and what the list says about it.

    Lean on purpose (slots, only the other columns in `fields`, the ASCII address only where
    it differs): a run holds every member in memory.
    """

    email: str
    name: str = ""
    ascii_email: str = ""  # only where it differs from `email` (an internationalised domain)
    organization: str = ""
    language: str = "da"
    groups: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=lambda: NO_FIELDS)  # other columns, for templates
    lines: tuple[int, ...] = ()
    explicit_language: bool = False  # the list said it (not the default)

    @property
    def key(self) -> str:
        """Addresses compare case-insensitively, a domain's Unicode and ASCII forms alike."""
        return address_key(self.email)

    @property
    def address(self) -> str:
        """The address as it goes on the envelope and in To: (ASCII where it has an ASCII form).

        A member rebuilt from the journal (a cancellation to someone since taken off the list)
        has no `ascii_email`; an internationalised domain is converted here all the same.
        """
        if self.ascii_email or self.email.isascii():
            return self.ascii_email or self.email
        try:
            return ascii_form(self.email)
        except NoAsciiForm:
            return self.email

    @property
    def line(self) -> int:
        return self.lines[0] if self.lines else 0

    def context(self) -> dict[str, object]:
        """What templates see as `recipient`: every column, plus the known ones."""
        values: dict[str, object] = dict(self.fields)
        values.update(
            email=self.email,
            name=self.name,
            organization=self.organization,
            language=self.language,
            groups=list(self.groups),
        )
        return values


@dataclass(frozen=True)
class Duplicate:
    """Rows for the same address that were merged into one member."""

    email: str
    lines: tuple[int, ...]

    def __str__(self) -> str:
        where = ", ".join(str(n) for n in self.lines)
        return f"{self.email} appears on lines {where}; merged into one member"


@dataclass(frozen=True)
class MemberList:
    """The outcome of reading a recipients file."""

    path: Path
    members: tuple[Member, ...]
    duplicates: tuple[Duplicate, ...] = ()
    invalid: tuple[RecipientsError, ...] = ()

    def require_valid(self) -> None:
        """Stop here when any row is invalid (the caller may choose to skip them instead)."""
        if self.invalid:
            raise InvalidRows(list(self.invalid))


def canonical_column(header: str) -> str:
    """A column's name for templates: known aliases to their meaning, others to a_name."""
    squeezed = re.sub(r"[\s\-_.]+", "", header.strip().casefold())
    for name, aliases in COLUMN_ALIASES.items():
        if squeezed in {re.sub(r"[\s\-_.]+", "", a) for a in aliases}:
            return name
    return re.sub(r"\W+", "_", header.strip().casefold()).strip("_") or "column"


def read_members(path: Path, default_language: str = "da") -> MemberList:
    """Read, validate and merge a member list (CSV or spreadsheet); invalid rows are collected,
    not raised."""
    table = read_table(path)
    columns = [canonical_column(h) for h in table.header]
    if "email" not in columns:
        raise RecipientsError(
            f"no e-mail column (columns are: {', '.join(table.header)})",
            path=path,
            line=table.header_line,
            field="email",
        )
    members: dict[str, Member] = {}
    invalid: list[RecipientsError] = []
    for line, row in table.rows():
        values = {name: (value or "").strip() for name, value in zip(columns, row, strict=False)}
        try:
            values = _from_address_cell(values, line, path)
            member = _member(values, _check(values.get("email", "")), line, path, default_language)
        except RecipientsError as err:
            invalid.append(err)
            continue
        if member.key in members:
            members[member.key] = _merge(members[member.key], member)
        else:
            members[member.key] = member
    duplicates = tuple(Duplicate(m.email, m.lines) for m in members.values() if len(m.lines) > 1)
    return MemberList(path, tuple(members.values()), duplicates, tuple(invalid))


# An address's verdict: None when it is valid as written, (the address as it is to be
# written, its ASCII form for SMTP or "") when it is valid otherwise, or why it is not one.
Verdict = tuple[str, str] | str | None


def _check(email: str) -> Verdict:
    try:
        checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as err:
        return str(err)
    ascii_email = checked.ascii_email or ""
    ascii_email = "" if ascii_email == checked.normalized else ascii_email
    return None if checked.normalized == email and not ascii_email else (checked.normalized, ascii_email)


def _from_address_cell(values: dict[str, str], line: int, path: Path) -> dict[str, str]:
    """The address out of a cell that holds more than the address ("Name <address>", "mailto:");
    the name there fills an empty name column (the list's own name wins). A cell with two
    addresses is refused: each member needs a row of their own."""
    cell = values.get("email", "")
    if not any(mark in cell for mark in "<:;, "):  # a plain address: the usual case, kept fast
        return values
    found = list(dict.fromkeys(a.casefold() for a in ADDRESS_LIKE.findall(cell)))
    if len(found) > 1:
        raise RecipientsError(
            f"{cell!r} holds {len(found)} addresses ({', '.join(found)}): give each address a row of "
            "its own (copy the row, and keep one address in each)",
            path=path,
            line=line,
            field="email",
        )
    written = NAMED_ADDRESS.fullmatch(cell) or MAILTO.fullmatch(cell)
    if written is None:
        return values  # checked as it is
    name = written.groupdict().get("name") or ""
    name = name.strip().strip("\"'").strip()
    return {**values, "email": written["address"], "name": values.get("name") or name}


def _refuse_control_characters(values: dict[str, str], line: int, path: Path) -> None:
    for name, value in values.items():
        found = CONTROL.search(value)
        if found:
            raise RecipientsError(
                f"an invisible control character (U+{ord(found.group()):04X}) is in {value!r}: no "
                "e-mail header or calendar can carry it; retype the cell in the spreadsheet",
                path=path,
                line=line,
                field=name,
            )


def _member(values: dict[str, str], verdict: Verdict, line: int, path: Path, default_language: str) -> Member:
    for name, value in values.items():
        if "\r" in value or "\n" in value:
            raise RecipientsError("line breaks are not allowed", path=path, line=line, field=name)
    if CONTROL.search("".join(values.values())):  # one search a row; rarely found
        _refuse_control_characters(values, line, path)
    email = values.get("email", "")
    if not email:
        raise RecipientsError("missing address", path=path, line=line, field="email")
    if isinstance(verdict, str):
        raise RecipientsError(f"{email!r} is not an address ({verdict})", path=path, line=line, field="email")
    normalized, ascii_email = verdict or (email, "")
    written = values.get("language") or default_language
    language = LANGUAGE_NAMES.get(written.casefold(), written.casefold())
    if language not in LANGUAGES:
        raise RecipientsError(
            f"{written!r} is not a language mailer writes "
            f"(use {' or '.join(LANGUAGES)}; Dansk and English are read too)",
            path=path,
            line=line,
            field="language",
        )
    groups = _shared(tuple(g.strip() for g in re.split(r"[;,]", values.get("groups", "")) if g.strip()))
    others = {name: value for name, value in values.items() if name not in KNOWN}
    return Member(
        email=normalized,
        ascii_email="" if ascii_email == normalized else ascii_email,
        name=values.get("name", ""),
        organization=_shared(values.get("organization", "")),
        language=language,
        groups=groups,
        fields=MappingProxyType(others) if others else NO_FIELDS,
        lines=(line,),
        explicit_language=bool(values.get("language")),
    )


_SHARED: dict[object, object] = {}
S = TypeVar("S", str, tuple[str, ...])


def _shared(value: S) -> S:
    """One object for a value many members have (their library, their groups)."""
    return _SHARED.setdefault(value, value)  # type: ignore[return-value]


def _merge(first: Member, later: Member) -> Member:
    """The first row wins; later rows fill its blanks and add their groups."""
    names = dict.fromkeys([*first.fields, *later.fields])
    fields = {name: first.fields.get(name) or later.fields.get(name, "") for name in names}
    # A blank language cell was filled with the default when read; a later row that names one wins.
    takes_later = later.explicit_language and not first.explicit_language
    return replace(
        first,
        name=first.name or later.name,
        organization=first.organization or later.organization,
        language=later.language if takes_later else first.language,
        explicit_language=first.explicit_language or later.explicit_language,
        groups=tuple(dict.fromkeys(first.groups + later.groups)),
        fields=MappingProxyType(fields) if fields else NO_FIELDS,
        lines=first.lines + later.lines,
    )


def read_suppressed(path: Path) -> set[str]:
    """Addresses that asked not to get mail (first column of files.unsubscribed)."""
    if not path.exists():
        return set()
    text = decode_export(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
    found = set()
    for row in reader:
        if row and "@" in row[0]:
            found.add(address_key(row[0]))
    return found


def add_suppressed(path: Path, email: str, when: str, source: str = "") -> bool:
    """Add an address to the suppression list (with the date, and where the request came from);
    False when it was there already."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise RecipientsError(f"{email!r} is not an address ({err})", field="email") from err
    if address_key(checked) in read_suppressed(path):
        return False
    new = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", newline="", opener=new_private) as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["email", "date", "source"])
        writer.writerow([checked, when, source] if source else [checked, when])
    return True
