"""Member list files as they come out of Excel, LibreOffice or an address book: CSV text (comma,
semicolon or tab; UTF-8, UTF-16 or Windows-1252) or a spreadsheet (.xlsx, .ods, .xls, read as it
is with python-calamine), each read into a header and numbered rows. A file that is neither is
named for what it is, with what to do."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from mailer.errors import RecipientsError

DELIMITERS = ",;\t"
SAVE_AS = "open it in Excel or LibreOffice and save the member list as .xlsx, .ods or CSV"
Row = tuple[int, list[str]]


@dataclass(frozen=True)
class Table:
    """A member list's header and rows; line numbers are the file's lines or the sheet's rows."""

    header: list[str]
    header_line: int
    lines: int  # how long the file is, for sharing out the work of checking it
    rows: Callable[[], Iterator[Row]]  # the rows after the header that are not blank, numbered


def decode_export(raw: bytes) -> str:
    """Text of a CSV export: UTF-8 (with or without BOM), UTF-16 or Windows-1252."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def csv_delimiter(text: str) -> str:
    """The delimiter the header line uses most (Danish Excel writes semicolons)."""
    header_line = text.split("\n", 1)[0]
    return max(DELIMITERS, key=header_line.count)


def read_table(path: Path) -> Table:
    """The member list at `path`, whatever of the understood kinds it is."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise RecipientsError(
            f"not found (looked for {path.absolute()}); put the member list there, "
            "or set files.recipients in config.toml to where it is",
            path=path,
        ) from err
    except OSError as err:
        raise RecipientsError(f"cannot read: {err}", path=path) from err
    kind = _binary_kind(raw)
    if kind == SPREADSHEET:
        return _sheet(raw, path)
    if kind is not None:
        raise RecipientsError(f"this is {kind}, not a member list: {SAVE_AS}", path=path)
    return _csv(decode_export(raw), path)


def _csv(text: str, path: Path) -> Table:
    delimiter = csv_delimiter(text)
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), None)
    if header is None:
        raise RecipientsError("the file is empty", path=path, line=1)
    return Table(header, 1, text.count("\n"), lambda: _csv_rows(text, delimiter))


def _csv_rows(text: str, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader, None)
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if any(cell.strip() for cell in row):
            yield line, row


SPREADSHEET = "a spreadsheet"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files (.xls, .doc) and password-protected ones


def _binary_kind(raw: bytes) -> str | None:
    """SPREADSHEET, what else the file is, or None for text (taken as CSV)."""
    if raw.startswith(_OLE2):
        return SPREADSHEET  # calamine tells an .xls from the rest
    if raw.startswith(b"PK\x03\x04"):
        return _zip_kind(raw)
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    head = raw[:4096]
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    # Text with a stray NUL in a cell (UTF-8 or Windows-1252) is still a member list: its row is
    # refused by name. In both, a byte below 0x20 is a control character, and text has few.
    if b"\x00" in head and not utf16 and len(head.translate(None, _TEXT_BYTES)) * 100 > len(head):
        return "not a text file (nor a spreadsheet mailer can read)"
    return None


_TEXT_BYTES = bytes(range(0x20, 0x100)) + b"\t\n\r"  # what is left are the control characters


_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a picture (PNG)"),
    (b"\xff\xd8\xff", "a picture (JPEG)"),
    (b"{\\rtf", "a Word text (RTF)"),
)


def _zip_kind(raw: bytes) -> str:
    """Office files are zip archives; their contents say which kind."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
    except (zipfile.BadZipFile, KeyError, OSError):
        return "a damaged zip archive"
    if {"xl/workbook.xml", "xl/workbook.bin"} & names or "opendocument.spreadsheet" in mimetype:
        return SPREADSHEET
    if "word/document.xml" in names:
        return "a Word document"
    if "opendocument.text" in mimetype:
        return "a LibreOffice text document"
    if any(name.startswith("ppt/") for name in names) or "opendocument.presentation" in mimetype:
        return "a presentation"
    if any(name.startswith("Index/") for name in names):
        return "an Apple Numbers file (export it from Numbers as Excel or CSV)"
    return "a zip archive"


def _sheet(raw: bytes, path: Path) -> Table:
    """The first worksheet, from its first row that is not blank; rows numbered as the sheet does."""
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        sheets = [i for i, s in enumerate(book.sheets_metadata) if s.typ == SheetTypeEnum.WorkSheet]
        if not sheets:
            raise RecipientsError("the spreadsheet has no sheet with cells", path=path)
        sheet = book.get_sheet_by_index(sheets[0])
        cells = [[_text(value) for value in row] for row in sheet.to_python(skip_empty_area=False)]
    except PasswordError as err:
        raise RecipientsError(f"the spreadsheet has a password: {SAVE_AS} without one", path=path) from err
    except CalamineError as err:
        raise RecipientsError(f"cannot be read as a spreadsheet ({err}): {SAVE_AS}", path=path) from err
    numbered = [(number, row) for number, row in enumerate(cells, start=1) if any(c.strip() for c in row)]
    if not numbered:
        raise RecipientsError(f"the sheet {sheet.name!r} is empty", path=path, line=1)
    (header_line, header), rows = numbered[0], numbered[1:]
    return Table(header, header_line, len(cells), lambda: iter(rows))


def _text(value: object) -> str:
    """A cell as the coordinator sees it: 12345678, not 12345678.0; dates as 2027-09-21."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
