"""Reading real member-list exports: encodings, separators, header spellings, duplicates, bad rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailer.errors import RecipientsError
from mailer.recipients import MemberList, canonical_column, decode_export, read_members

CSV = Path(__file__).parent / "data" / "csv"


def members_of(name: str, default_language: str = "da") -> MemberList:
    return read_members(CSV / name, default_language)


def test_danish_excel_utf8_with_bom_and_semicolons() -> None:
    raw = (CSV / "danish_excel_utf8_bom.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]  # the file is what it claims

    result = members_of("danish_excel_utf8_bom.csv")

    assert result.invalid == () and result.duplicates == ()
    assert [m.email for m in result.members] == [
        "soren.aero@vordingborg.example",
        "ase.bogh@koege.example",
        "lars.brondum@horsens.example",
    ]
    soren, ase, lars = result.members
    assert soren.name == "Søren Ærø"  # no BOM glued to the first header, no mojibake
    assert soren.organization == "Vordingborg Bibliotekerne"
    assert ase.groups == ("netværk", "styregruppe")  # ';' inside a quoted cell is not a separator
    assert ase.language == "da"  # blank: the default
    assert lars.language == "en"
    assert soren.lines == (2,)


def test_danish_excel_windows_1252() -> None:
    raw = (CSV / "danish_excel_cp1252.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")

    result = members_of("danish_excel_cp1252.csv")

    names = [(m.name, m.organization) for m in result.members]
    assert names == [
        ("Søren Ærø", "Vordingborg Bibliotekerne – Kulturhus"),  # 0x96 is an en dash in cp1252
        ("Mette Kjær", "Næstved Bibliotek og Borgerservice"),
        ("Pernille Åby", "Greve Bibliotek"),
    ]
    assert result.members[2].language == "en"
    assert result.members[2].groups == ("styregruppe",)


def test_comma_separated_utf8_with_e_mail_header_and_extra_column() -> None:
    result = members_of("comma_utf8_e-mail.csv")

    maria, anne = result.members
    assert maria.email == "maria.lohse@roskilde.example"
    assert maria.language == "en"
    assert maria.groups == ("netværk", "styregruppe")
    assert anne.name == "Jensen, Anne Mette Bøttcher"  # a comma inside quotes stays in the name
    # Columns mailer does not know are there for templates, under a plain name.
    assert maria.context()["role"] == "Bibliotekar"
    assert anne.context()["role"] == "Leder"


def test_email_header_in_any_case_and_internationalised_domain() -> None:
    result = members_of("email_header.csv", default_language="en")

    ida, niels = result.members
    assert ida.name == "Ida Strand"
    assert ida.email == "ida.strand@køge.example"
    assert ida.address == "ida.strand@xn--kge-0na.example"  # what goes on the envelope and in To
    assert ida.language == "da"  # 'DA' in the file
    assert niels.language == "en"  # blank: the default given


@pytest.mark.parametrize(
    ("header", "meaning"),
    [
        ("E-mail", "email"),
        ("Email", "email"),
        ("EMAIL", "email"),
        ("e_mail", "email"),
        ("E-mail-adresse", "email"),
        ("Mail", "email"),
        ("Navn", "name"),
        ("Fulde navn", "name"),
        ("Bibliotek", "organization"),
        ("Sprog", "language"),
        ("Grupper", "groups"),
        ("Mødested (by)", "mødested_by"),
    ],
)
def test_header_spellings(header: str, meaning: str) -> None:
    assert canonical_column(header) == meaning


def test_utf16_unicode_text_export_with_tabs() -> None:
    raw = (CSV / "unicode_text_utf16.txt").read_bytes()
    assert raw.startswith(b"\xff\xfe")

    result = members_of("unicode_text_utf16.txt")

    soren, emma = result.members
    assert (soren.name, soren.email) == ("Søren Ærø", "soren.aero@vordingborg.example")
    assert (emma.name, emma.organization) == ("Emma Øster", "Helsingør Kommunes Biblioteker")
    assert emma.groups == ("netværk", "styregruppe")
    assert emma.lines == (3,)


def test_decode_export_prefers_utf8_and_falls_back_to_windows_1252() -> None:
    assert decode_export("Søren".encode()) == "Søren"
    assert decode_export(b"\xef\xbb\xbfS\xc3\xb8ren") == "Søren"
    assert decode_export("Søren – Ærø".encode("cp1252")) == "Søren – Ærø"
    assert decode_export("\ufeffSøren".encode("utf-16-le")) == "Søren"


def test_duplicates_differing_in_case_are_merged_with_a_warning_naming_the_lines() -> None:
    result = members_of("duplicates.csv")

    assert [m.email for m in result.members] == [
        "tina.hove@roskilde.example",
        "gitte.jacobsen@roskilde.example",
    ]
    tina, gitte = result.members
    assert tina.lines == (2, 4, 5)
    assert tina.name == "Tina Marie Hove"  # the first row had no name; a later one fills it
    assert tina.organization == "Roskilde Bibliotekerne"
    assert tina.groups == ("netværk", "styregruppe")  # groups from every row, once each
    assert gitte.lines == (3, 6)
    assert gitte.language == "en"  # the first row left it blank; the later row names it

    warnings = [str(d) for d in result.duplicates]
    assert warnings == [
        "tina.hove@roskilde.example appears on lines 2, 4, 5; merged into one member",
        "gitte.jacobsen@roskilde.example appears on lines 3, 6; merged into one member",
    ]


def test_first_row_wins_when_both_name_a_language(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text("email,name,language\nbo@faxe.example,Bo,da\nBO@faxe.example,Bo B,en\n", encoding="utf-8")

    (bo,) = read_members(path).members

    assert (bo.name, bo.language, bo.lines) == ("Bo", "da", (2, 3))


def test_merged_duplicates_keep_every_column_for_templates(tmp_path: Path) -> None:
    """An extra column blank on every row of a member is still there (empty), so a template
    that uses it renders instead of failing for that member alone."""
    path = tmp_path / "members.csv"
    path.write_text(
        "email,name,telefon,rolle\nbo@faxe.example,Bo,,\nBO@faxe.example,,,Leder\nida@faxe.example,Ida,555,\n",
        encoding="utf-8",
    )

    bo, ida = read_members(path).members

    assert bo.context()["telefon"] == "" and bo.context()["rolle"] == "Leder" and bo.name == "Bo"
    assert ida.context()["telefon"] == "555" and ida.context()["rolle"] == ""
    assert "email" not in bo.fields and "name" not in bo.fields  # kept once, as attributes


def test_invalid_rows_are_reported_with_line_numbers() -> None:
    result = members_of("invalid_rows.csv")

    problems = [(e.line, e.field) for e in result.invalid]
    assert problems == [(2, "email"), (3, "email"), (4, "language"), (5, "name")]
    text = [str(e) for e in result.invalid]
    assert text[0].startswith("invalid_rows.csv:2: email: 'anna@' is not an address")
    assert text[1] == "invalid_rows.csv:3: email: missing address"
    assert "'sv'" in text[2]
    assert text[3] == "invalid_rows.csv:5: name: line breaks are not allowed"
    # The row after the two-line cell keeps its real line number.
    assert [(m.email, m.lines) for m in result.members] == [
        ("ida.strand@koege.example", (7,)),
        ("camilla.lund@guldborgsund.example", (8,)),
    ]
    with pytest.raises(RecipientsError) as stopped:
        result.require_valid()
    assert stopped.value.line == 2


def test_header_injection_in_a_quoted_name_is_an_invalid_row() -> None:
    result = members_of("header_injection.csv")

    (problem,) = result.invalid
    assert (problem.line, problem.field) == (2, "name")
    assert [m.email for m in result.members] == ["rasmus.skov@skive.example", "hanne.ravn@ringsted.example"]
    assert all("\n" not in m.name and "\r" not in m.name for m in result.members)


def test_missing_email_column_is_an_error_naming_the_columns() -> None:
    with pytest.raises(RecipientsError) as err:
        members_of("no_email_column.csv")

    assert (err.value.line, err.value.field) == (1, "email")
    assert str(err.value).startswith("no_email_column.csv:1: email: no e-mail column")
    assert "Navn, Bibliotek, Telefon" in str(err.value)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(RecipientsError, match="not found"):
        read_members(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(RecipientsError, match="empty"):
        read_members(tmp_path / "empty.csv")


def test_blank_lines_are_skipped_without_shifting_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    shutil.copy(CSV / "danish_excel_utf8_bom.csv", path)
    data = path.read_bytes().replace(b"\r\nLars", b"\r\n;;;;\r\n\r\nLars")
    path.write_bytes(data)

    result = read_members(path)

    assert result.invalid == ()
    assert result.members[-1].lines == (6,)


def test_sample_member_list_has_one_member_per_distinct_address() -> None:
    sample = Path(__file__).parents[1] / "recipients.csv"
    result = read_members(sample)

    assert result.invalid == ()
    keys = [m.key for m in result.members]
    assert len(keys) == len(set(keys))
    rows = sum(len(m.lines) for m in result.members)
    assert rows - len(result.members) == sum(len(d.lines) - 1 for d in result.duplicates) > 0


def test_a_long_list_names_each_invalid_row_and_sends_idn_addresses_in_ascii(tmp_path: Path) -> None:
    rows = ["Navn;E-mail;Bibliotek"]
    for n in range(300):
        email = f"Medlem.{n}@Roskilde.example"
        if n % 97 == 5:
            email = f"medlem.{n}@"  # invalid
        elif n % 50 == 7:
            email = f"medlem.{n}@bibliotek.ærø.example"  # IDN: sent in its ASCII form
        rows.append(f"Medlem {n};{email};Roskilde Bibliotek")
    path = tmp_path / "recipients.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = read_members(path)

    assert len(result.members) == 300 - 4
    assert [(e.line, e.field) for e in result.invalid] == [
        (7, "email"),
        (104, "email"),
        (201, "email"),
        (298, "email"),
    ]
    assert "is not an address" in str(result.invalid[-1])
    idn = next(m for m in result.members if "xn--" in m.address)
    assert idn.email.endswith("@bibliotek.ærø.example")


def test_address_cells_and_language_names_as_outlook_and_danish_lists_write_them() -> None:
    """A cell copied from Outlook ("Name <address>"), a hyperlink cell ("mailto:"), "Dansk" or
    "English" in the Sprog column are read; two addresses in one cell are refused with what to do."""
    result = members_of("outlook_cells.csv")
    found = {m.email: (m.name, m.language) for m in result.members}
    assert found == {
        "soeren.aeroe@koege.example": ("Søren Ærø", "da"),  # the cell's name fills the empty column
        "kirsten@vordingborg.example": ("Kirsten Holm", "en"),
        "bo@faxe.example": ("Bo Ravn", "en"),  # the name column wins over the cell's
        "jens@greve.example": ("Jens Vang", "da"),
    }
    two, swedish = result.invalid
    assert (two.line, two.field, swedish.line, swedish.field) == (4, "email", 6, "language")
    assert str(two).endswith(
        "'mette@soroe.example; lars@soroe.example' holds 2 addresses (mette@soroe.example, "
        "lars@soroe.example): give each address a row of its own (copy the row, and keep one "
        "address in each)"
    )
    assert "'Svensk' is not a language mailer writes (use da or en; Dansk and English are read too)" in str(
        swedish
    )
