"""The desk speaks the coordinator's language (`sender.language`) on every page and after every
main action: the pages, the preview, a send to aiosmtpd followed to its end, a test message, the
inbox read from a Maildir, an answer by hand, and the problems she meets most often. Each page's
visible text, with the members' and meetings' own data taken out, holds no word of the other
language, and says what the page is for in hers."""

from __future__ import annotations

import html
import mailbox
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import FIXED, MEETING, MEETING_ID, ROOT, USER, Project, RefusingRecorder, SmtpServer, free_port
from desk_client import DeskClient, running_desk

from mailer.desk.words import WORDS, counted
from mailer.journal import Journal

INVITATION = {"template": "invitation", "meeting": MEETING_ID}
REPLIES = ROOT / "tests" / "data" / "replies"

# Common English words that are no Danish words (so none may be on a Danish page).
ENGLISH = frozenset(
    """the and of is are was were has have had not with from this that which what who will would you
    your yet nothing already again only here there then if so no yes into about when where why how
    after before in on or all any each their they them its been being can cannot could should member
    members meeting meetings message messages answer answers answered reply replies read recorded
    skipped bounce bounces bounced delay delayed delays preview choose please sign signed password
    update cancel cancelled reminder newsletter template done stopped failed sending unsubscribed
    list file name library invalid row rows line lines date new edit save search overview inbox
    minute minutes morning people nobody everyone today day""".split()  # noqa: SIM905
)
# Common Danish words that are no English words (so none may be on an English page).
DANISH = frozenset(
    """og ikke til er af med på det den der et intet møde møder medlem medlemmer sendt svar vælg gem
    skriv læst læs besked beskeder skabelon aflys aflyst overblik indbakke gennemsyn adgangskode
    ugyldige kommer måske siden igen hvad hvor hvornår nu fra om som eller kl tirsdag onsdag blev
    bliver skal kan ingen alle dem""".split()  # noqa: SIM905
)
# What each page says in each language (besides the menu): its purpose, in words.
SAYS = {
    "da": {
        "overview": [
            "Kommende møder",
            "Det skal du se på",
            "er ikke sendt ud endnu",
            "Intet er sendt endnu.",
        ],
        "overview-after": ["Invitation: Netværksmøde: Hvad siger brugerne?", "onsdag den 25. november 2026"],
        "members": ["4 medlemmer", "Erstat listen"],
        "upload-problem": ["liste.pdf er ikke en medlemsliste", "Ret rækkerne i filen"],
        "meetings": ["Send invitation eller opdatering", "tirsdag den 21. september 2027 kl. 13.00–16.00"],
        "meeting-form": ["Nyt møde", "Gem i config.toml"],
        "meeting-edit": ["Program (et punkt pr. linje)"],
        "meeting-problem": ["Intet er gemt", "Start: »16/11 kl 10« er ikke et tidspunkt"],
        "preview": ["Skabelon", "Påmindelse", "Lav gennemsyn"],
        "preview-shown": ["Gennemsynet er lavet: 4 beskeder. Intet er sendt."],
        "preview-page": ["Gennemsyn", "Intet er sendt"],
        "send": [
            "4 nye",
            "4 beskeder til 4 medlemmer",
            "med adgangskode som",
            "den kommer fra MAILER_SMTP__PASSWORD",
        ],
        "send-problem": ["Den skabelon handler om et møde: vælg mødet."],
        "test-sent": ["er sendt til koordinator@roskilde.example"],
        "sent": ["Færdig", "sendt: 4, havde den allerede: 0, fejlede: 0", "4 af 4 sendt"],
        "busy": ["Stoppet", "En anden udsendelse er i gang", "Vent, til den er færdig"],
        "no-run": ["Den udsendelse kender skrivebordet ikke"],
        "inbox": ["Læs nu", "Skriv et svar ind i hånden"],
        "inbox-read": [
            "Læst: 2 beskeder.",
            "Svar skrevet ind til Netværksmøde: Hvad siger brugerne? (2)",
            "kommer · svarede",
            "måske · svarede",
            "2026 kl.",
        ],
        "inbox-to-read": ["Læs dem selv", "Mads Køhler <mads.kohler@koege.example>", "skrevet "],
        "answer-recorded": ["kommer ikke til", "skrevet ind i hånden"],
        "answer-problem": ["er ikke inviteret til", "Send invitationen til adressen først"],
    },
    "en": {
        "overview": [
            "Coming meetings",
            "What needs you",
            "has not been sent out yet",
            "Nothing has been sent yet.",
        ],
        "overview-after": ["Invitation: Netværksmøde: Hvad siger brugerne?", "Wednesday, 25 November 2026"],
        "members": ["4 members", "Replace the list"],
        "upload-problem": ["liste.pdf is not a member list", "Correct the rows in the file"],
        "meetings": ["Send the invitation or update", "Tuesday, 21 September 2027 at 13:00–16:00"],
        "meeting-form": ["New meeting", "Save in config.toml"],
        "meeting-edit": ["Programme (one item a line)"],
        "meeting-problem": ["Nothing was saved", 'Start: "16/11 kl 10" is not a time'],
        "preview": ["Template", "Reminder", "Build the preview"],
        "preview-shown": ["The preview is built: 4 messages. Nothing was sent."],
        "preview-page": ["Preview"],
        "send": [
            "4 new",
            "4 messages to 4 members",
            "with a password as",
            "it comes from MAILER_SMTP__PASSWORD",
        ],
        "send-problem": ["This template is about a meeting: choose the meeting."],
        "test-sent": ["was sent to koordinator@roskilde.example"],
        "sent": ["Done", "sent: 4, already had it: 0, failed: 0", "4 of 4 sent"],
        "busy": ["Stopped", "Another send is running", "Wait until it has finished"],
        "no-run": ["The desk does not know that run"],
        "inbox": ["Read now", "Record an answer by hand"],
        "inbox-read": [
            "Read: 2 messages.",
            "Answers recorded for Netværksmøde: Hvad siger brugerne? (2)",
            "accepted · answered",
            "tentative · answered",
            "2026 at",
        ],
        "inbox-to-read": ["To read yourself", "Mads Køhler <mads.kohler@koege.example>", "written "],
        "answer-recorded": ["declined to", "entered by hand"],
        "answer-problem": ["was not invited to", "Send the invitation to the address first"],
    },
}


def visible(page: str) -> str:
    """The words a reader sees: tags, scripts and styles dropped, entities read."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))).strip()


def interface_words(text: str, project: Project) -> set[str]:
    """The page's own words: the members' and meetings' data (Danish whatever the language),
    addresses, file names, commands and settings' names taken out."""
    data = [str(v) for m in project.members for v in m[:3]]
    data += [MEETING["title"], MEETING["location"], MEETING["description"], *MEETING["agenda"]]
    data += ["Accepteret:", "Foreløbig:", "Re:", "Syg – ringede", "Mads Køhler", "Søren Ærø", "16/11 kl 10"]
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"\bmailer [a-z]+\b", " ", text)  # a command she can type: the CLI's own words
    text = re.sub(r"\[TEST\][^\"»]*", " ", text)  # the test message's subject, in the member's language
    tokens = (t.strip(".,:;!?()«»\"'“”·–-") for t in text.split())
    return {t.casefold() for t in tokens if t and not re.search(r"[@./:_0-9]", t)}


def walk(project: Project, server: SmtpServer, tmp_path: Path, language: str) -> dict[str, str]:
    """Every page of the desk and its main actions, in `language`; each page's HTML by name."""
    project.write()
    config = project.config.read_text(encoding="utf-8")
    project.config.write_text(config.replace('language = "da"', f'language = "{language}"'), encoding="utf-8")
    box = mailbox.Maildir(tmp_path / "Maildir")
    for name in ("outlook.eml", "thunderbird.eml"):
        box.add((REPLIES / name).read_bytes())
    pages: dict[str, str] = {}
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        for name, path in (
            ("overview", "/"),
            ("members", "/members"),
            ("meetings", "/meetings"),
            ("meeting-form", "/meetings/edit"),
            ("meeting-edit", f"/meetings/edit?id={MEETING_ID}"),
            ("preview", "/preview"),
            ("send-problem", "/send?template=reminder"),
            ("no-run", "/send/job/unknown"),
            ("inbox", "/inbox"),
        ):
            pages[name] = client.get(path).text
        pages["upload-problem"] = client.post_files(
            "/members/upload", {}, [("file", "liste.pdf", b"%PDF")]
        ).text
        bad_start = {
            "new": "1",
            "id": "2027-11-16-samskabelse",
            "title": "Samskabelse",
            "start": "16/11 kl 10",
        }
        pages["meeting-problem"] = client.post("/meetings/edit", bad_start).text
        built = client.post("/preview", INVITATION).headers["Location"]
        pages["preview-shown"] = client.get(built).text
        folder = built.split("/")[3].split("?")[0]
        index = client.get(f"/preview/files/{folder}/index.html").text
        pages["preview-page"] = re.search(r"<html.*?</thead>", index, flags=re.S).group(0)  # type: ignore[union-attr]
        pages["send"] = client.get("/send?" + urlencode(INVITATION)).text
        pages["test-sent"] = client.post(
            "/send/test", {**INVITATION, "test_to": "koordinator@roskilde.example"}
        ).text
        with Journal(project.state) as journal, journal.sending():  # a terminal run holds the lock
            busy = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
            desk.pages.jobs.wait()
        pages["busy"] = client.get(busy).text
        job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
        desk.pages.jobs.wait()
        pages["sent"] = client.get(job).text
        pages["overview-after"] = client.get("/").text
        client.get("/inbox")
        pages["inbox-read"] = client.post_files("/inbox", {"path": str(tmp_path / "Maildir")}, []).text
        plain = [("files", "svar.eml", (REPLIES / "plain-reply.eml").read_bytes())]
        pages["inbox-to-read"] = client.post_files("/inbox", {}, plain).text
        answer = {"meeting": MEETING_ID, "email": "maria.lohse@roskilde.example", "answer": "declined"}
        pages["answer-recorded"] = client.post("/inbox/answer", {**answer, "note": "Syg – ringede"}).text
        pages["answer-problem"] = client.post(
            "/inbox/answer", {**answer, "email": "ukendt@greve.example"}
        ).text
    assert len(server.messages) == 5  # the test message and the four invitations
    return pages


@pytest.mark.parametrize("language", ["da", "en"])
def test_every_page_and_action_speaks_her_language(
    project: Project, server: SmtpServer, tmp_path: Path, language: str
) -> None:
    pages = walk(project, server, tmp_path, language)
    other = ENGLISH if language == "da" else DANISH
    assert set(pages) == set(SAYS[language])
    for name, page in pages.items():
        assert f'<html lang="{language}">' in page, name
        text = visible(page)
        foreign = interface_words(text, project) & other
        assert not foreign, (name, sorted(foreign), text)
        for phrase in SAYS[language][name]:
            assert phrase in text, (name, phrase, text)


def danish_send(project: Project) -> str:
    """Send the invitation from the desk; the result page's words."""
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        client.get("/send?" + urlencode(INVITATION))
        job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
        desk.pages.jobs.wait()
        return visible(client.get(job).text)


@pytest.mark.smtp_fault(RefusingRecorder)
def test_a_refused_sign_in_says_so_in_her_words_and_what_to_do(project: Project, server: SmtpServer) -> None:
    project.write()
    shown = danish_send(project)
    assert f"Serveren afviste login : 127.0.0.1:{server.port} sagde nej til brugernavnet {USER}" in shown
    assert "Serverens svar: 535 5.7.8 Authentication credentials invalid" in shown
    assert "Intet blev sendt." in shown and "Skriv adgangskoden igen på siden Send" in shown
    assert not server.messages


def test_a_server_out_of_reach_says_so_in_her_words_and_what_to_do(project: Project) -> None:
    project.smtp = {"host": "127.0.0.1", "port": free_port(), "security": "none", "backoff": 0.0}
    project.write()
    shown = danish_send(project)
    assert "Serveren kan ikke nås" in shown and "Der kom intet svar fra 127.0.0.1" in shown
    assert "Intet blev sendt." in shown and "Med programmets egne ord: 127.0.0.1 is there" in shown
    assert "Tjek, at computeren er på nettet" in shown


def test_both_languages_have_every_word_and_its_plural() -> None:
    assert set(WORDS["da"]) == set(WORDS["en"])
    for key, danish in WORDS["da"].items():
        assert danish.count("|") == WORDS["en"][key].count("|") <= 1, key
    assert counted("da", "invalid_n", 1) == "1 række i medlemslisten er ugyldig"
    assert counted("da", "invalid_n", 3) == "3 rækker i medlemslisten er ugyldige"
    assert counted("en", "message_n", 1) == "1 message" and counted("da", "minute_n", 2) == "2 minutter"
