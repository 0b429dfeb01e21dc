"""Templates: strict variables and syntax errors found by `mailer check`, HTML autoescaping,
languages and Danish dates.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import MEETING_ID, SAMPLE_NOW

from mailer.cli import main
from mailer.compose import Composer
from mailer.config import Settings, load_settings
from mailer.errors import TemplateError
from mailer.plan import Campaign, Delivery
from mailer.recipients import Member
from mailer.templates import MessageTemplate, Rendered, meeting_view
from mailer.words import long_datetime

ROOT = Path(__file__).parents[1]


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args], clock=lambda: SAMPLE_NOW)


def render(
    name: str, language: str = "da", template: str = "invitation", settings: Settings | None = None
) -> Rendered:
    """What the pipeline renders for one member: the composer's own context, not a hand-made one."""
    settings = settings or load_settings(ROOT / "config.toml")
    folder = settings.resolve(settings.files.templates)
    chosen = MessageTemplate(folder, template, settings.sender.language)
    meeting = settings.meeting(MEETING_ID)
    method = "REQUEST" if chosen.settings.calendar == "request" else None
    campaign = Campaign(
        f"{template}:{MEETING_ID}", chosen, meeting, method, 0, meeting.uid("roskilde.example")
    )
    member = Member(email="soren.aero@vordingborg.example", name=name, language=language, lines=(2,))
    return Composer(settings, now=SAMPLE_NOW).rendered(Delivery(member, campaign, "new"))


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if needle in line)


def test_danish_and_english_dates() -> None:
    meeting = load_settings(ROOT / "config.toml").meeting(MEETING_ID)

    assert long_datetime(meeting.start, "da") == "tirsdag den 21. september 2027 kl. 13.00"
    assert meeting_view(meeting, "da")["when"] == "tirsdag den 21. september 2027 kl. 13.00–16.00"
    assert meeting_view(meeting, "en")["when"] == "Tuesday, 21 September 2027 at 13:00–16:00"


def test_shipped_invitation_in_danish_and_english() -> None:
    assert MessageTemplate(ROOT / "templates", "invitation", "da").languages == ["da", "en"]

    danish = render("Søren Ærø")
    assert danish.subject == "Netværksmøde: Hvad siger brugerne? – tirsdag den 21. september 2027"
    assert "Kære Søren Ærø" in danish.text
    assert "tirsdag den 21. september 2027 kl. 13.00–16.00" in danish.text
    english = render("Lars Brøndum", "en")
    assert english.subject == "Netværksmøde: Hvad siger brugerne? – Tuesday, 21 September 2027"
    assert "Dear Lars Brøndum" in english.text


def test_a_language_without_a_variant_falls_back_to_the_senders(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(ROOT / "templates" / "cancellation", folder / "cancellation")
    shutil.rmtree(folder / "cancellation" / "en")

    template = MessageTemplate(folder, "cancellation", "da")

    assert template.languages == ["da"]
    assert template.variant("en") == "da"


def test_html_is_autoescaped_and_text_is_not() -> None:
    name = "<script>alert(1)</script> & Co"

    rendered = render(name)

    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in rendered.html
    assert f"Kære {name}" in rendered.text  # the text part shows the data as it is


def copy_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", folder)
    return folder


def test_misspelt_variable_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    body = folder / "invitation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8").replace("meeting.location", "meeting.loaction"), "utf-8")
    config = tmp_path / "config.toml"
    shutil.copy(ROOT / "config.toml", config)

    with pytest.raises(TemplateError) as err:
        render("Søren Ærø", settings=load_settings(config))

    assert err.value.path == body
    assert err.value.line == line_of(body, "meeting.loaction")
    assert "loaction" in str(err.value)


def test_syntax_error_is_found_when_loading_naming_file_and_line(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    html = folder / "invitation" / "en" / "body.html"
    html.write_text(html.read_text(encoding="utf-8").replace("{% endif %}", "{% endfi %}", 1), "utf-8")

    with pytest.raises(TemplateError) as err:
        MessageTemplate(folder, "invitation", "da")

    assert err.value.path == html
    assert err.value.line == line_of(html, "{% endfi %}")


def test_check_finds_a_misspelt_variable(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = sample.parent / "templates" / "invitation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8").replace("meeting.location", "meeting.loaction"), "utf-8")

    assert run(sample, "check") == 2

    err = capsys.readouterr().err
    assert f"invitation/da/body.txt:{line_of(body, 'loaction')}: " in err
    assert "`meeting.loaction` does not exist (did you mean `meeting.location`?)" in err


def test_check_finds_an_error_only_some_members_reach(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the English-speaking members get en/; `check` renders for every member, so it finds it."""
    body = sample.parent / "templates" / "invitation" / "en" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8").replace("recipient.name", "recipient.nmae"), "utf-8")

    assert run(sample, "check") == 2

    err = capsys.readouterr().err
    assert f"invitation/en/body.txt:{line_of(body, 'recipient.nmae')}: " in err
    assert "nmae" in err


def test_check_finds_a_syntax_error(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subject = sample.parent / "templates" / "cancellation" / "en" / "subject.txt"
    subject.write_text("Cancelled: {{ meeting.title }\n", encoding="utf-8")

    assert run(sample, "check") == 2

    err = capsys.readouterr().err
    assert "error: cancellation/en/subject.txt:1: " in err


def test_preview_stops_on_a_template_error_before_writing_anything(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = sample.parent / "templates" / "invitation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8").replace("sender.name", "sender.navn"), "utf-8")

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 2

    assert "navn" in capsys.readouterr().err


def test_check_names_the_template_and_language_of_the_file(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = sample.parent / "templates" / "invitation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8").replace("meeting.location", "meeting.loaction"), "utf-8")

    assert run(sample, "check") == 2

    assert "invitation/da/body.txt" in capsys.readouterr().err
