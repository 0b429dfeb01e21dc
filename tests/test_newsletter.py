"""Newsletters: Markdown bodies, the shared layout with inlined CSS, list headers, the
suppression list and upcoming meetings, through `mailer preview` and the template API.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
import shutil
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import MEETING_ID, NEWSLETTER, SAMPLE_NOW, SmtpServer

from mailer.cli import main
from mailer.compose import list_headers, list_id, unsubscribe_for
from mailer.config import SenderSettings
from mailer.errors import TemplateError
from mailer.markdown import markdown_parts
from mailer.templates import MessageTemplate

# What members receive is the same on the fast path and the plain one (MAILER_PLAIN=1).
pytestmark = pytest.mark.usefixtures("plain")

ROOT = Path(__file__).resolve().parent.parent
LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence", "Auto-Submitted")
SENDER = {"name": "Brugernes Rum", "email": "brugernesrum@roskilde.example"}


@pytest.fixture
def folder(newsletter_folder: Path) -> Path:
    """The newsletter project plus the template `kitchen` (every Markdown feature a newsletter uses)."""
    shutil.copytree(NEWSLETTER / "templates" / "kitchen", newsletter_folder / "templates" / "kitchen")
    return newsletter_folder


def run(folder: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(folder / "config.toml"), *args], clock=lambda: SAMPLE_NOW, out=out)
    return code, out.getvalue()


def outbox(folder: Path, campaign: str) -> dict[str, EmailMessage]:
    """Each written message, parsed back, by its To address."""
    found = {}
    for path in sorted((folder / "outbox" / campaign).glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found


def part(msg: EmailMessage, subtype: str) -> str:
    body = msg.get_body(preferencelist=(subtype,))
    assert body is not None and body.get_content_subtype() == subtype
    return str(body.get_content()).replace("\r\n", "\n")


def kitchen(member: dict[str, object] | None = None) -> tuple[str, str, str | None]:
    template = MessageTemplate(NEWSLETTER / "templates", "kitchen", "da")
    context = {
        "recipient": member or {"name": "Søren Ærø"},
        "sender": {**SENDER, "reply_to": "koordinator@roskilde.example"},
        "unsubscribe": None,
    }
    rendered = template.render("da", context)
    return rendered.subject, rendered.text, rendered.html


# --- Markdown ---------------------------------------------------------------------------


def test_markdown_becomes_html_with_headings_links_lists_bold_and_images() -> None:
    subject, _, html = kitchen()
    assert subject == "Alt i Markdown til Søren Ærø"
    assert html is not None
    assert re.search(r"<h1[^>]*>Nyt fra netværket</h1>", html)
    assert re.search(r"<h2[^>]*>Det skal vi nå</h2>", html)
    assert re.search(r"<strong[^>]*>et nyt punkt</strong>", html)
    assert re.search(r'<a href="https://brugernesrum.roskilde.example/program"[^>]*>programmet her</a>', html)
    assert re.search(r'<a href="mailto:koordinator@roskilde.example"[^>]*>koordinatoren</a>', html)
    assert re.search(r"<li[^>]*>Velkomst og kaffe</li>", html)
    assert re.search(r"<ul[^>]*>\s*<li[^>]*>spørgeskemaet</li>", html)  # the nested list
    assert re.search(r"<ol[^>]*>\s*<li[^>]*>Først</li>", html)
    assert re.search(
        r'<img src="https://billeder.roskilde.example/laesesal.jpg" alt="Læsesal i Roskilde"', html
    )


def test_markdown_becomes_readable_text_from_the_same_source() -> None:
    _, text, _ = kitchen()
    assert "<" not in text and "**" not in text and "](" not in text
    lines = text.splitlines()
    assert lines[0] == "Nyt fra netværket"
    assert "Det skal vi nå" in lines
    assert "Kære Søren Ærø, vi har et nyt punkt på programmet. Læs programmet her" in text
    assert "(https://brugernesrum.roskilde.example/program)" in text
    assert "koordinatoren (koordinator@roskilde.example)" in text
    list_block = "- Velkomst og kaffe\n- Hvad siger brugerne?\n  - spørgeskemaet\n  - interviews\n- Frokost"
    assert list_block in text
    assert "1. Først\n2. Bagefter" in text
    assert "Læsesal i Roskilde (https://billeder.roskilde.example/laesesal.jpg)" in text
    assert all(len(line) <= 72 for line in lines)


def test_text_wraps_at_72_columns_without_breaking_urls() -> None:
    url = "https://brugernesrum.roskilde.example/" + "meget-lang-sti/" * 6
    text = markdown_parts(f"Se {'ord ' * 20}[her]({url}) og mere tekst bagefter.\n")[0]
    assert all(len(line) <= 72 or url in line for line in text.splitlines())
    assert f"({url})" in text


def test_markup_in_member_data_is_shown_as_text_not_html() -> None:
    _, text, html = kitchen({"name": "Karen <b>Fed</b> Ø"})
    assert html is not None
    assert "<b>Fed</b>" not in html
    assert "Karen &lt;b&gt;Fed&lt;/b&gt; Ø" in html
    assert "Kære Karen <b>Fed</b> Ø" in text  # the text part is text


def test_body_md_beside_body_txt_is_refused(tmp_path: Path) -> None:
    shutil.copytree(NEWSLETTER / "templates", tmp_path / "templates")
    (tmp_path / "templates" / "kitchen" / "da" / "body.txt").write_text("Hej\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"body.txt: body.md makes this part"):
        MessageTemplate(tmp_path / "templates", "kitchen", "da")


def test_a_template_error_in_body_md_names_the_file_and_line(tmp_path: Path) -> None:
    shutil.copytree(NEWSLETTER / "templates", tmp_path / "templates")
    body = tmp_path / "templates" / "kitchen" / "da" / "body.md"
    body.write_text("# Hej\n\n{{ recipient.navn }}\n", encoding="utf-8")
    template = MessageTemplate(tmp_path / "templates", "kitchen", "da")
    with pytest.raises(TemplateError, match=r"body.md:3"):
        template.render("da", {"recipient": {"name": "Søren"}, "sender": SENDER, "unsubscribe": None})


# --- layout and inlined CSS -----------------------------------------------------------------


def test_the_body_is_put_in_the_layout_and_its_css_inlined() -> None:
    _, _, html = kitchen()
    assert html is not None
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert re.search(
        r'<div class="masthead" style="color: #1f4e5f;font-weight: bold;">Brugernes Rum</div>', html
    )
    assert re.search(r'<p style="margin: 0 0 12px;">Kære Søren Ærø', html)
    assert re.search(
        r'<a href="https://brugernesrum.roskilde.example/program" style="color: #0b6e8a;">', html
    )
    assert "Skriv til koordinator@roskilde.example" in html  # the layout's footer, not bulk
    # Only what cannot be inlined stays in <style>: the @media rule.
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.DOTALL)
    leftover = "".join(re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", s) for s in styles)
    assert leftover.strip() == ""
    assert any("@media" in s for s in styles)


def test_shipped_newsletter_has_the_network_footer_and_inline_styles(folder: Path) -> None:
    code, _ = run(folder, "preview", "newsletter")
    assert code == 0
    html = part(outbox(folder, "newsletter")["soren.aero@vordingborg.example"], "html")
    assert "Brugernes Rum" in html and "Inspirationsnetværk for folkebibliotekerne" in html
    link = "https://brugernesrum.roskilde.example/afmeld?adresse=soren.aero%40vordingborg.example"
    assert f'<a href="{link}"' in html and "Afmeld nyhedsbrevet" in html
    assert 'href="mailto:brugernesrum@roskilde.example?subject=unsubscribe"' in html
    assert re.search(r'<h2 style="[^"]*font-size: 19px', html)
    for style in re.findall(r"<style[^>]*>(.*?)</style>", html, re.DOTALL):
        assert style.strip().startswith("@media") and style.count("@media") == 1


# --- list headers ---------------------------------------------------------------------------


def test_newsletters_carry_list_unsubscribe_and_bulk_headers(folder: Path) -> None:
    code, _ = run(folder, "preview", "newsletter")
    assert code == 0
    messages = outbox(folder, "newsletter")
    assert len(messages) == 5
    for address, msg in messages.items():
        assert msg["List-Id"] == "Brugernes Rum <brugernes-rum.roskilde.example>"
        encoded = address.replace("@", "%40")
        # Folded on the wire (the line is long); unfolded, both ways out are there.
        assert msg["List-Unsubscribe"].strip() == (
            "<mailto:brugernesrum@roskilde.example?subject=unsubscribe>, "
            f"<https://brugernesrum.roskilde.example/afmeld?adresse={encoded}>"
        )
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Precedence"] == "bulk"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert [p.get_filename() for p in msg.iter_attachments()] == ["meetings.ics"]


def test_invitations_carry_no_list_headers(folder: Path) -> None:
    code, _ = run(folder, "preview", "invitation", "--meeting", MEETING_ID)
    assert code == 0
    messages = outbox(folder, f"invitation_{MEETING_ID}")
    assert len(messages) == 5
    for msg in messages.values():
        assert [h for h in LIST_HEADERS if h in msg] == []
        assert "Afmeld" not in part(msg, "html")  # no unsubscribe footer either


def test_cancellations_carry_no_list_headers(
    folder: Path, smtp_server_factory: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancellation goes to those who were invited: invite everyone, then cancel, and read
    what the server received (a newsletter's bulk headers would make clients file it away)."""
    server = smtp_server_factory("none", auth=False)
    monkeypatch.setenv("MAILER_SMTP__PORT", str(server.port))
    assert run(folder, "send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    invited = len(server.messages)
    assert invited == 5

    code, _ = run(folder, "preview", "cancellation", "--meeting", MEETING_ID)
    assert code == 0
    assert len(outbox(folder, f"cancellation_{MEETING_ID}")) == invited
    assert run(folder, "send", "cancellation", "--meeting", MEETING_ID, "--yes")[0] == 0
    cancellations = server.messages[invited:]
    assert len(cancellations) == invited
    for msg in [*cancellations, *outbox(folder, f"cancellation_{MEETING_ID}").values()]:
        calendar = msg.get_body(preferencelist=("calendar",))
        assert calendar is not None and calendar.get_param("method") == "CANCEL"
        assert [h for h in LIST_HEADERS if h in msg] == []


def test_without_unsubscribe_url_only_mailto_and_no_one_click() -> None:
    sender = SenderSettings(**SENDER)
    headers = list_headers(sender, unsubscribe_for(sender, "soren.aero@vordingborg.example"))
    assert headers == {
        "List-Id": "Brugernes Rum <brugernes-rum.roskilde.example>",
        "List-Unsubscribe": "<mailto:brugernesrum@roskilde.example?subject=unsubscribe>",
        "Precedence": "bulk",
        "Auto-Submitted": "auto-generated",
    }


@pytest.mark.parametrize(
    ("url", "shown", "one_click"),
    [
        ("https://roskilde.example/afmeld", "https://roskilde.example/afmeld", False),  # names nobody
        (
            "http://roskilde.example/afmeld?a={email}",
            "http://roskilde.example/afmeld?a=s%C3%B8s%40x.example",
            False,
        ),
        (
            "https://roskilde.example/afmeld?a={email}",
            "https://roskilde.example/afmeld?a=s%C3%B8s%40x.example",
            True,
        ),
    ],
)
def test_one_click_only_for_a_personal_https_link(url: str, shown: str, one_click: bool) -> None:
    sender = SenderSettings(**SENDER, unsubscribe_url=url)
    headers = list_headers(sender, unsubscribe_for(sender, "søs@x.example"))
    assert headers["List-Unsubscribe"].endswith(f", <{shown}>")
    assert ("List-Unsubscribe-Post" in headers) is one_click


def test_list_id_is_ascii_for_a_danish_network_name() -> None:
    sender = SenderSettings(name="Læsefællesskab på Sjælland", email="laes@sjaelland.example")
    assert list_id(sender) == "<laesefaellesskab-paa-sjaelland.sjaelland.example>"


# --- suppression and upcoming meetings --------------------------------------------------------


def test_preview_leaves_out_unsubscribed_members(folder: Path) -> None:
    code, said = run(folder, "unsubscribe", "Aase.Bogh@soroe.example")
    assert code == 0 and "will not be sent anything again" in said
    code, said = run(folder, "preview", "newsletter")
    assert code == 0
    assert "1 unsubscribed member left out" in said
    messages = outbox(folder, "newsletter")
    assert "aase.bogh@soroe.example" not in messages
    assert len(messages) == 4
    page = (folder / "outbox" / "newsletter" / "index.html").read_text(encoding="utf-8")
    assert "aase.bogh@soroe.example" not in page and "soren.aero@vordingborg.example" in page


def test_upcoming_meetings_listed_in_danish_and_english(folder: Path) -> None:
    code, _ = run(folder, "preview", "newsletter")
    assert code == 0
    messages = outbox(folder, "newsletter")
    danish = part(messages["soren.aero@vordingborg.example"], "plain")
    assert "Kommende arrangementer" in danish
    listed = danish[danish.index("Kommende arrangementer") :]
    items = [line for line in listed.splitlines() if line.startswith("- ")]
    assert len(items) == 2
    assert items[0].startswith("- tirsdag den 21. september 2027 kl. 13.00")
    assert items[1].startswith("- tirsdag den 16. november 2027 kl. 10.00")
    flat = " ".join(danish.split())
    assert "- tirsdag den 21. september 2027 kl. 13.00–16.00: Netværksmøde: Hvad siger brugerne?, " in flat
    assert "Køge Bibliotek, Kirkestræde 18, 4600 Køge (foreløbig dato)" in flat
    english = part(messages["maria.lohse@roskilde.example"], "plain")
    assert messages["maria.lohse@roskilde.example"]["Subject"].startswith("News from Brugernes Rum")
    assert "Upcoming events" in english
    flat = " ".join(english.split())
    assert "- Tuesday, 21 September 2027 at 13:00–16:00: Netværksmøde: Hvad siger brugerne?" in flat
    assert "- Tuesday, 16 November 2027 at 10:00–14:30: Netværksmøde: Samskabelse" in flat
    assert "(provisional date)" in flat
    html = part(messages["soren.aero@vordingborg.example"], "html")
    assert re.search(r"<strong[^>]*>tirsdag den 21. september 2027 kl. 13.00–16.00</strong>", html)
    for text in (danish, english, html):
        assert "Studietur" not in text  # cancelled
        assert "Indretning og kommunikation" not in text  # already held


def test_newsletter_content_from_the_network_news(folder: Path) -> None:
    code, _ = run(folder, "preview", "newsletter")
    assert code == 0
    text = part(outbox(folder, "newsletter")["soren.aero@vordingborg.example"], "plain")
    assert text.startswith("Kære Søren Ærø\n")
    for heading in (
        "Vi har et nyt punkt på programmet: Hvad siger brugerne?",
        "Tema for novembermødet: Samskabelse",
        "Vi har brug for jeres eksempler",
        "Kommende arrangementer",
    ):
        assert f"\n\n{heading}\n\n" in text
    assert "koordinatoren (koordinator@roskilde.example)" in text
    nameless = part(outbox(folder, "newsletter")["kontakt@kalundborg.example"], "plain")
    assert nameless.startswith("Kære netværksdeltager\n")


# --- problems on the preview page ------------------------------------------------------------


def test_preview_page_flags_missing_fields_and_remote_images(folder: Path) -> None:
    code, _ = run(folder, "preview", "kitchen")
    assert code == 0
    page = (folder / "outbox" / "kitchen" / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-file="[^"]+" data-address="([^"]+)"( class="flagged")?>', page)
    assert len(rows) == 5 and all(flagged for _, flagged in rows)  # every one has a remote image
    assert page.count("billeder hentet udefra: mange mailprogrammer viser dem først") == 10  # table + section
    nameless = page[page.index('<section class="message" id="m4"') :]
    nameless = nameless[: nameless.index("</section>")]
    assert "medlemmet har intet navn på listen" in nameless
    assert "medlemmet har intet bibliotek på listen" in nameless
