"""What arrives at the server for odd member data, on the fast path and the plain one: no line
over 998 characters, no boundary inside the content, text that looks like an RFC 2047 encoded
word kept as text, and the very bytes the preview wrote.
"""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Project, SmtpServer

FREE = "Fri tekst"


pytestmark = pytest.mark.usefixtures("plain")


def template(project: Project, name: str, *, subject: str, text: str, html: str | None = None) -> None:
    """A template of the project's own (no calendar): the files as given, byte for byte."""
    folder = project.root / "templates" / name
    (folder / "da").mkdir(parents=True)
    (folder / "template.toml").write_text('calendar = "none"\n', encoding="utf-8")
    (folder / "da" / "subject.txt").write_text(subject, encoding="utf-8")
    (folder / "da" / "body.txt").write_text(text, encoding="utf-8")
    if html is not None:
        (folder / "da" / "body.html").write_text(html, encoding="utf-8")


def received(server: SmtpServer) -> dict[str, tuple[bytes, EmailMessage]]:
    """Each member's message as it arrived: its bytes and the bytes parsed back."""
    found = {}
    for _, rcpts, data in server.recorder.received:
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found[rcpts[0]] = (data, parsed)
    return found


def decoded_to(data: bytes) -> str:
    """To: with its RFC 2047 words decoded as the RFC says (the standard library's address parser
    puts a space between adjacent words in a display name, where RFC 2047 section 6.2 says none)."""
    return str(make_header(decode_header(email.message_from_bytes(data)["To"])))


def body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_subtype() == subtype, msg
    return str(part.get_content()).replace("\r\n", "\n")


def send(project: Project, *args: str) -> str:
    code, out = project.main("send", *args, "--yes")
    assert code == 0, out
    return out


def test_no_line_over_998_characters_whatever_the_values(project: Project, server: SmtpServer) -> None:
    long_ascii = "Bibliotekarforeningen" * 60  # 1,260 characters, no space to fold at
    long_danish = "Søren Ærø Bøgh " * 80  # 1,200
    project.members = [
        (long_ascii, "lang@roskilde.example", "Roskilde", "da"),
        (long_danish.strip(), "dansk@roskilde.example", "Køge", "da"),
    ]
    template(
        project,
        "hilsen",
        subject="Til {{ recipient.name }}\n",
        text="Kære {{ recipient.name }}\n\nVi ses.\n",
        html="<p>Kære {{ recipient.name }}</p>\n",
    )

    send(project, "hilsen")

    messages = received(server)
    for address, name in (("lang@roskilde.example", long_ascii), ("dansk@roskilde.example", long_danish)):
        data, msg = messages[address]
        assert max(len(line) for line in data.split(b"\r\n")) <= 998
        assert max(len(line) for line in data.split(b"\r\n\r\n")[0].split(b"\r\n")) <= 78
        assert decoded_to(data) == f"{name.strip()} <{address}>"
        assert msg["Subject"] == f"Til {name.strip()}"
        assert body(msg, "plain") == f"Kære {name.strip()}\n\nVi ses.\n"
        assert f"Kære {name.strip()}</p>" in body(msg, "html")  # inside the layout, its CSS inlined


def test_a_link_no_header_can_carry_is_refused_by_check(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write()
    config = project.config.read_text(encoding="utf-8")
    link = "https://roskilde.example/afmeld/" + "x" * 1000 + "?email={email}"
    project.config.write_text(
        config.replace("[smtp]", f'unsubscribe_url = "{link}"\n\n[smtp]', 1), encoding="utf-8"
    )
    from mailer.cli import main

    code = main(["--config", str(project.config), "check"])

    err = capsys.readouterr().err
    assert code == 2
    assert "List-Unsubscribe header would be a line of" in err and "at most 998" in err


def test_a_boundary_never_occurs_in_the_content(project: Project, server: SmtpServer, tmp_path: Path) -> None:
    template(
        project,
        "hilsen",
        subject="Hej\n",
        text="Hej\n{{ recipient.organization }}\nVi ses.\n",
        html="<p>Hej</p>\n{{ recipient.organization }}\n<p>Vi ses.</p>\n",
    )
    project.members = project.members[:1]
    code, out = project.main("preview", "hilsen", "--out", str(tmp_path / "first"))
    assert code == 0, out
    (first,) = (tmp_path / "first").rglob("*.eml")
    boundaries = {part.get_boundary() for part in email.message_from_bytes(first.read_bytes()).walk()}
    # The member's organization written as each boundary of their own message, opening and closing.
    lines = [f"--{b}{end}" for b in boundaries if b for end in ("", "--")]
    name, address, _, language = project.members[0]
    project.members = [(name, address, " ".join(lines), language)]

    send(project, "hilsen")

    (data, msg), *_ = received(server).values()
    assert body(msg, "plain") == "Hej\n" + " ".join(lines) + "\nVi ses.\n"
    html = body(msg, "html")  # the member's line, then the rest of the part
    assert html.index("Hej</p>") < html.index("\n" + " ".join(lines) + "\n") < html.index("Vi ses.</p>")
    for boundary in boundaries - {None}:
        assert data.count(f"--{boundary}".encode()) == 3  # opens the two parts, closes the last


def test_text_that_looks_like_an_encoded_word_arrives_as_written(
    project: Project, server: SmtpServer
) -> None:
    looks_encoded = "=?utf-8?b?R3JhdGlzIGdhdmVrb3J0?="  # "Gratis gavekort" once decoded
    project.members = [(looks_encoded, "ida@roskilde.example", "=?utf-8?q?Roskilde?=", "da")]
    template(
        project, "hilsen", subject="{{ recipient.organization }} og {{ recipient.name }}\n", text="Hej\n"
    )

    send(project, "hilsen")

    (data, msg), *_ = received(server).values()
    assert msg["To"].addresses[0].display_name == looks_encoded
    assert msg["Subject"] == f"=?utf-8?q?Roskilde?= og {looks_encoded}"
    assert looks_encoded.encode() not in data


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Hej {{ recipient.name }}", None),
        ("Hej {{ recipient.name }}", "<p>Hej</p>"),
        ("Hej\n", None),
        ("", None),
    ],
    ids=["text-without-line-break", "with-html", "text-with-line-break", "empty"],
)
def test_the_preview_is_the_bytes_sent(
    project: Project, server: SmtpServer, text: str, html: str | None
) -> None:
    template(project, "hilsen", subject="Hej\n", text=text, html=html)
    code, out = project.main("preview", "hilsen")
    assert code == 0, out
    previewed = {
        email.message_from_bytes(eml.read_bytes())["To"]: eml.read_bytes()
        for eml in (project.root / "outbox").rglob("*.eml")
    }

    send(project, "hilsen")

    sent = {email.message_from_bytes(data)["To"]: data for data, _ in received(server).values()}
    assert sent == previewed
    assert len(sent) == len(project.members)


def test_the_shipped_invitation_preview_is_the_bytes_sent(project: Project, server: SmtpServer) -> None:
    code, out = project.main("preview", "invitation", "--meeting", project.meetings[0]["id"])
    assert code == 0, out
    previewed = sorted(eml.read_bytes() for eml in (project.root / "outbox").rglob("*.eml"))

    send(project, "invitation", "--meeting", project.meetings[0]["id"])

    assert sorted(data for data, _ in received(server).values()) == previewed
