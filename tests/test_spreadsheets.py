"""Member lists saved from Excel (.xlsx) or LibreOffice (.ods) read as they are, with the same
header spellings and checks as a CSV; line numbers are the sheet's rows."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXED, ROOT
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from openpyxl import Workbook

from mailer.cli import main
from mailer.recipients import read_members

Cell = str | int


def sample_rows() -> list[list[Cell]]:
    """The shipped sample list (æøå, a dozen duplicates, Danish headers), as its cells."""
    text = (ROOT / "recipients.csv").read_text(encoding="utf-8-sig")
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=";")]


def write_xlsx(path: Path, rows: list[list[Cell]], *, top: int = 0) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Medlemmer"
    for number, row in enumerate(rows, start=1 + top):
        for column, value in enumerate(row, start=1):
            if value != "":
                sheet.cell(row=number, column=column, value=value)
    book.save(path)
    return path


def write_ods(path: Path, rows: list[list[Cell]]) -> Path:
    document = OpenDocumentSpreadsheet()
    table = Table(name="Medlemmer")
    for row in rows:
        line = TableRow()
        for value in row:
            if isinstance(value, int):
                cell = TableCell(valuetype="float", value=value)
            elif value:
                cell = TableCell(valuetype="string")
            else:
                cell = TableCell()
            if value != "":
                cell.addElement(P(text=str(value)))
            line.addElement(cell)
        table.addElement(line)
    document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def write_csv(path: Path, rows: list[list[Cell]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows([[str(v) for v in row] for row in rows])
    return path


Writer = Callable[[Path, list[list[Cell]]], Path]
KINDS = pytest.mark.parametrize(("suffix", "write"), [("xlsx", write_xlsx), ("ods", write_ods)])


@KINDS
def test_a_spreadsheet_gives_the_same_members_as_the_same_csv(
    tmp_path: Path, suffix: str, write: Writer
) -> None:
    rows = sample_rows()
    sheet = write(tmp_path / f"medlemmer.{suffix}", rows)

    from_sheet = read_members(sheet)
    from_csv = read_members(write_csv(tmp_path / "medlemmer.csv", rows))

    assert from_sheet.members == from_csv.members
    assert from_sheet.duplicates == from_csv.duplicates and len(from_sheet.duplicates) == 11
    assert from_sheet.invalid == ()
    koege = next(m for m in from_sheet.members if m.email == "mads.kohler@køge.example")
    assert koege.name == "Mads Køhler" and koege.organization == "Køge Bibliotekerne"
    assert koege.address == "mads.kohler@xn--kge-0na.example"


@KINDS
def test_numbers_read_as_written_and_bad_rows_named_by_their_row(
    tmp_path: Path, suffix: str, write: Writer
) -> None:
    rows: list[list[Cell]] = [
        ["E-mailadresse", "Kontaktperson", "Telefon", "Sprog"],
        ["aase.bogh@soroe.example", "Åse Bøgh", 57876543, "da"],
        ["", "", "", ""],
        ["anna@", "Anna Ærø", 46311234, "da"],
        ["soren@greve.example", "Søren Ø", 43971234, "svensk"],
    ]
    result = read_members(write(tmp_path / f"liste.{suffix}", rows))

    (aase,) = result.members
    assert aase.fields == {"telefon": "57876543"}  # not 57876543.0
    assert aase.lines == (2,)
    assert [(e.line, e.field) for e in result.invalid] == [(4, "email"), (5, "language")]
    assert str(result.invalid[0]).startswith(
        f"liste.{write.__name__[6:]}:4: email: 'anna@' is not an address"
    )  # type: ignore[attr-defined]


def test_rows_are_the_sheets_own_numbers_below_a_blank_top(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [["Navn", "E-mail"], ["Åse Bøgh", "aase@soroe.example"], ["Ole", "ole@"]]
    result = read_members(write_xlsx(tmp_path / "liste.xlsx", rows, top=2))

    assert result.members[0].lines == (4,)
    assert [e.line for e in result.invalid] == [5]


def run_check(folder: Path) -> tuple[int, str]:
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", err)
        code = main(
            ["--config", str(folder / "config.toml"), "check"], clock=lambda: FIXED, out=io.StringIO()
        )
    return code, err.getvalue()


def use_members(sample: Path, name: str) -> Path:
    text = sample.read_text(encoding="utf-8")
    sample.write_text(text.replace('recipients = "recipients.csv"', f'recipients = "{name}"'), "utf-8")
    return sample.parent / name


def test_check_reads_an_xlsx_named_in_the_config(sample: Path) -> None:
    write_xlsx(use_members(sample, "medlemmer.xlsx"), sample_rows())

    out = io.StringIO()
    code = main(["--config", str(sample), "check"], clock=lambda: FIXED, out=out)

    assert code == 0
    assert "members: 25 distinct" in out.getvalue()


def test_a_word_document_is_named_with_what_to_do(sample: Path) -> None:
    path = use_members(sample, "medlemmer.docx")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")

    code, err = run_check(sample.parent)

    assert code == 2
    assert err == (
        "error: medlemmer.docx: this is a Word document, not a member list: open it in Excel or "
        "LibreOffice and save the member list as .xlsx, .ods or CSV\n"
    )


def test_a_pdf_is_named_with_what_to_do(sample: Path) -> None:
    use_members(sample, "medlemmer.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")

    code, err = run_check(sample.parent)

    assert code == 2
    assert err.startswith("error: medlemmer.pdf: this is a PDF document, not a member list: open it in Excel")


def test_a_damaged_spreadsheet_says_so(sample: Path) -> None:
    path = use_members(sample, "medlemmer.xlsx")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook>not finished")

    code, err = run_check(sample.parent)

    assert code == 2
    assert err.startswith("error: medlemmer.xlsx: cannot be read as a spreadsheet (")
    assert err.endswith("save the member list as .xlsx, .ods or CSV\n")
