"""What the desk changes: a meeting added or moved through the form (config.toml keeps its
comments and layout, and is checked as `mailer check` checks it before it is replaced), a new
member list uploaded (checked first, the old kept as a dated copy), the mailbox read and an
answer recorded by hand."""

from __future__ import annotations

import html
import io
import mailbox
import re
import shutil
from pathlib import Path
from typing import Any

from conftest import FIXED, ROOT, Project, SmtpServer
from desk_client import DeskClient, running_desk
from openpyxl import Workbook
from test_desk_pages import text_of

from mailer.cli import main
from mailer.config import load_settings

MEETING_ID = "2027-09-21-hvad-siger-brugerne"
COMMENT = "# Møderne i netværket: ret dem her eller på skrivebordet."


def opened(desk: Any) -> DeskClient:
    client = DeskClient(desk.address)
    client.open()
    client.get("/")
    return client


def commented(project: Project) -> str:
    project.write()
    text = project.config.read_text(encoding="utf-8").replace("[[meetings]]", f"{COMMENT}\n[[meetings]]", 1)
    text = text.replace('language = "da"', 'language = "da"     # members without one get Danish')
    project.config.write_text(text, encoding="utf-8")
    return text


def check(config: Path) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--config", str(config), "check"], clock=lambda: FIXED, out=out), out.getvalue()


NEW = {
    "new": "1",
    "id": "2027-11-16-samskabelse",
    "title": "Netværksmøde: Samskabelse",
    "start": "2027-11-16T10:00",
    "end": "2027-11-16T14:30",
    "timezone": "Europe/Copenhagen",
    "location": "Køge Bibliotek, Kirkestræde 18, 4600 Køge",
    "description": "Samskabelse som tema: vi har brug for eksempler fra biblioteksverdenen.",
    "agenda": "Velkomst\r\nEksempler fra medlemmerne\r\nFrokost",
    "status": "tentative",
}


def test_a_meeting_added_and_moved_through_the_form_keeps_config_tomls_comments(project: Project) -> None:
    before = commented(project)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        assert client.get("/meetings/edit").status == 200
        saved = client.post("/meetings/edit", NEW)
        assert saved.status == 200, saved.text
        assert "Gemt i config.toml" in text_of(saved.text)
        after = project.config.read_text(encoding="utf-8")
        assert after.startswith(before)  # everything she wrote is still there, as she wrote it
        assert "start = 2027-11-16T10:00:00" in after
        meeting = load_settings(project.config).meeting("2027-11-16-samskabelse")
        assert meeting.agenda == ("Velkomst", "Eksempler fra medlemmerne", "Frokost")
        assert meeting.location.startswith("Køge") and meeting.status == "tentative"
        assert check(project.config)[0] == 0

        form = client.get(f"/meetings/edit?id={MEETING_ID}")
        assert 'value="2027-09-21T13:00"' in form.text and "readonly" in form.text
        moved = {**NEW, "new": "", "id": MEETING_ID, "title": "Netværksmøde: Hvad siger brugerne?"}
        moved.update(start="2027-09-21T14:00", end="2027-09-21T17:00", agenda="Velkomst\nFrokost")
        assert client.post("/meetings/edit", moved).status == 200
        changed = project.config.read_text(encoding="utf-8")
        assert COMMENT in changed and "# members without one get Danish" in changed
        assert "start = 2027-09-21T14:00:00" in changed and "start = 2027-11-16T10:00:00" in changed
        page = text_of(client.get("/meetings").text)
        assert "tirsdag den 21. september 2027 kl. 14.00–17.00" in page


def test_a_meeting_that_does_not_check_is_not_saved(project: Project) -> None:
    before = commented(project)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        for change, words in (
            ({"end": "2027-11-16T09:00"}, "config.toml"),
            ({"timezone": "Europe/Køge"}, "IANA"),
            (
                {"start": "16/11 kl 10"},
                "Start: »16/11 kl 10« er ikke et tidspunkt: skriv det som 2027-09-21T13:00",
            ),
            ({"id": MEETING_ID}, f"Der er allerede et møde med id {MEETING_ID}"),
            ({"id": "../x"}, "id"),
        ):
            reply = client.post("/meetings/edit", {**NEW, **change})
            assert reply.status == 200
            shown = text_of(reply.text)
            assert words in shown and "Gemt" not in shown, (change, shown)
            assert ".desk-trial" not in shown
            assert project.config.read_text(encoding="utf-8") == before
    assert not list(project.root.glob(".*desk*"))


def workbook(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


DANISH_LIST = [
    ["Navn", "E-mail", "Bibliotek", "Sprog", "Grupper"],
    ["Søren Ærø", "soren.aero@vordingborg.example", "Vordingborg Bibliotekerne", "da", "netværk"],
    ["Åse Bøgh", "aase.bogh@soroe.example", "Sorø Bibliotek", "", "netværk"],
    ["Mads Køhler", "mads.kohler@koege.example", "Køge Bibliotekerne", "da", ""],
    ["Jens Ågård", "jens@køge.example", "Køge Bibliotekerne", "en", "styregruppe"],
]


def test_an_excel_member_list_replaces_the_old_once_it_checks(project: Project) -> None:
    commented(project)
    old = (project.root / "recipients.csv").read_bytes()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/members")
        bad = client.post_files("/members/upload", {}, [("file", "medlemmer.xlsx", workbook(WITH_INVALID))])
        shown = text_of(bad.text)
        # asked first: each invalid row with its line, field, what is wrong and the right form
        assert "medlemmer.xlsx har ikke erstattet listen endnu" in shown
        assert "2 rækker i medlemmer.xlsx er ugyldige" in shown
        assert invalid_rows(bad.text) == [
            ("6", "email", "'anna@' is not an address", "en adresse som anna.jensen@roskilde.example"),
            ("7", "language", "'fr' is not a language mailer writes", "da eller en (tom: afsenderens sprog)"),
        ]
        assert "forsvinder fra listen" not in shown  # two of the four go: not many
        assert (project.root / "recipients.csv").read_bytes() == old
        assert not list(project.root.glob("*.xlsx")) and not list(project.root.glob("recipients-*"))
        ticket = ticket_of(bad.text)
        kept = client.post("/members/upload/decide", {"ticket": ticket, "choice": "cancel"})
        assert "Intet er erstattet: listen er, som den var." in text_of(kept.text)
        late = client.post("/members/upload/decide", {"ticket": ticket, "choice": "replace"})
        assert "Den fil venter ikke længere" in text_of(late.text)
        assert (project.root / "recipients.csv").read_bytes() == old
        assert not list(project.root.glob("*.xlsx")) and not list(project.root.glob(".*desk*"))
        good = client.post_files("/members/upload", {}, [("file", "medlemmer.xlsx", workbook(DANISH_LIST))])
        shown = text_of(good.text)
        assert "Listen er erstattet: 4 medlemmer" in shown, shown
        assert "Åse Bøgh" in shown and "jens@køge.example" in shown
    kept = project.root / "recipients-2026-11-25T093000.csv"
    assert kept.read_bytes() == old and "recipients-2026-11-25T093000.csv" in shown
    assert not (project.root / "recipients.csv").exists()
    assert load_settings(project.config).files.recipients == Path("recipients.xlsx")
    assert COMMENT in project.config.read_text(encoding="utf-8")
    assert check(project.config)[0] == 0


def test_an_uploaded_list_is_named_relative_to_config_toml(
    project: Project, monkeypatch: Any, tmp_path: Path
) -> None:
    """`mailer desk` with the default --config (config.toml, a relative path): the list is written
    into config.toml as its name beside it, so a moved or copied folder reads its own list."""
    commented(project)
    monkeypatch.chdir(project.root)
    with running_desk(Path("config.toml"), FIXED) as desk:
        client = opened(desk)
        client.get("/members")
        good = client.post_files("/members/upload", {}, [("file", "medlemmer.xlsx", workbook(DANISH_LIST))])
        assert "Listen er erstattet: 4 medlemmer" in text_of(good.text), text_of(good.text)
    written = project.config.read_text(encoding="utf-8")
    assert 'recipients = "recipients.xlsx"' in written and str(project.root) not in written
    copy = tmp_path / "kopi"
    shutil.copytree(project.root, copy)
    (project.root / "recipients.xlsx").unlink()  # the original folder's list is gone: the copy has its own
    settings = load_settings(copy / "config.toml")
    assert settings.resolve(settings.files.recipients) == copy / "recipients.xlsx"
    assert check(copy / "config.toml")[0] == 0


WITH_INVALID = [*DANISH_LIST, ["Anna", "anna@"], ["Bo Ørsted", "bo@greve.example", "Greve Bibliotek", "fr"]]


def invalid_rows(page: str) -> list[tuple[str, ...]]:
    """The question's table of invalid rows: line, field, the start of what is wrong, right form."""
    table = page.split('id="invalid-rows"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", table)
    return [
        (line, field, html.unescape(wrong).split(" (")[0], html.unescape(form))
        for line, field, wrong, form in rows
    ]


def ticket_of(page: str) -> str:
    found = re.search(r'name="ticket" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def test_a_list_with_invalid_rows_replaces_the_old_when_she_says_so(project: Project) -> None:
    commented(project)
    old = (project.root / "recipients.csv").read_bytes()
    uploaded = workbook(WITH_INVALID)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/members")
        asked = client.post_files("/members/upload", {}, [("file", "medlemmer.xlsx", uploaded)])
        assert "Erstat listen alligevel (4 medlemmer)" in text_of(asked.text)
        done = client.post("/members/upload/decide", {"ticket": ticket_of(asked.text), "choice": "replace"})
        shown = text_of(done.text)
        assert "Listen er erstattet: 4 medlemmer. 2 ugyldige rækker står stadig i filen" in shown, shown
        invalid = shown.split("Ugyldige rækker", 1)[1]
        assert "medlemmer.xlsx" not in invalid and "recipients.xlsx:6: email: 'anna@'" in invalid
        assert "recipients.xlsx:7: language: 'fr'" in invalid
        assert "2 rækker i medlemslisten er ugyldige" in text_of(client.get("/").text)
    assert (project.root / "recipients.xlsx").read_bytes() == uploaded  # nothing she typed is lost
    assert (project.root / "recipients-2026-11-25T093000.csv").read_bytes() == old
    assert check(project.config)[0] == 2  # as check says of any list with invalid rows
    out = io.StringIO()
    args = ["--config", str(project.config), "check", "--skip-invalid"]
    assert main(args, clock=lambda: FIXED, out=out) == 0, out.getvalue()


def test_an_upload_that_leaves_out_many_members_asks_first(project: Project) -> None:
    commented(project)
    old = (project.root / "recipients.csv").read_bytes()
    one = [DANISH_LIST[0], DANISH_LIST[1]]  # Søren only: three of the four would go
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/members")
        asked = client.post_files("/members/upload", {}, [("file", "medlemmer.xlsx", workbook(one))])
        shown = text_of(asked.text)
        assert "3 af de 4 medlemmer på listen nu er ikke med i medlemmer.xlsx" in shown, shown
        assert "Er det den rigtige fil?" in shown and 'id="invalid-rows"' not in asked.text
        gone = shown.split("Er det den rigtige fil?", 1)[1].split("Erstat listen alligevel", 1)[0]
        assert "maria.lohse@roskilde.example" in gone and "soren.aero@vordingborg.example" not in gone
        assert (project.root / "recipients.csv").read_bytes() == old

        # the list changed in an editor while she looked: nothing is replaced
        project.members.append(("Ny Bibliotekar", "ny@greve.example", "Greve Bibliotek", "da"))
        project.write()
        changed = (project.root / "recipients.csv").read_bytes()
        late = client.post("/members/upload/decide", {"ticket": ticket_of(asked.text), "choice": "replace"})
        assert "recipients.csv er ændret, siden medlemmer.xlsx blev indlæst" in text_of(late.text)
        assert (project.root / "recipients.csv").read_bytes() == changed
        assert not list(project.root.glob("recipients-*")) and not list(project.root.glob("*.xlsx"))

        asked = client.post_files("/members/upload", {}, [("file", "medlemmer.xlsx", workbook(one))])
        assert "4 af de 5 medlemmer" in text_of(asked.text)
        done = client.post("/members/upload/decide", {"ticket": ticket_of(asked.text), "choice": "replace"})
        assert "Listen er erstattet: 1 medlem." in text_of(done.text)

    assert load_settings(project.config).files.recipients == Path("recipients.xlsx")


def test_the_mailbox_read_now_and_an_answer_recorded_by_hand(
    project: Project, server: SmtpServer, tmp_path: Path
) -> None:
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    box = mailbox.Maildir(tmp_path / "Maildir")
    for name in ("outlook.eml", "thunderbird.eml"):
        box.add((ROOT / "tests" / "data" / "replies" / name).read_bytes())
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/inbox")
        read = client.post_files("/inbox", {"path": str(tmp_path / "Maildir")}, [])
        report = text_of(read.text)
        assert "Læst: 2 beskeder." in report
        assert "Svar skrevet ind til Netværksmøde: Hvad siger brugerne? (2)" in report
        again = client.post_files(
            "/inbox", {}, [("files", "svar.eml", (ROOT / "tests/data/replies/plain-reply.eml").read_bytes())]
        )
        assert "Læs dem selv (skriv svaret ind herunder, hvis det er et svar på et møde) (1)" in text_of(
            again.text
        )
        answer = {"meeting": MEETING_ID, "email": "maria.lohse@roskilde.example", "answer": "declined"}
        by_hand = client.post("/inbox/answer", {**answer, "note": "Syg – ringede"})
        assert "maria.lohse@roskilde.example: kommer ikke" in text_of(by_hand.text)
        stranger = client.post("/inbox/answer", {**answer, "email": "ukendt@greve.example"})
        assert stranger.status == 409
        assert "ukendt@greve.example er ikke inviteret til Netværksmøde" in text_of(stranger.text)
        overview = text_of(client.get("/").text)
    assert "1 kommer" in overview and "1 måske" in overview and "1 kommer ikke" in overview
    code, status = project.main("status", MEETING_ID)
    assert code == 0
    assert "declined (entered by hand)" in status and "Syg – ringede" in status
