"""The page made once per shape of member data (layout and CSS inlining) and the validation memo:
every member gets exactly the page the ordinary per-member path makes, and every failure is still
raised for the member it happens to.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import MEETING_ID, SAMPLE_NOW

from mailer.compose import Composer
from mailer.config import Settings, load_settings
from mailer.errors import TemplateError
from mailer.plan import Campaign, Delivery
from mailer.recipients import Member
from mailer.shapes import ShapedParts
from mailer.templates import MessageTemplate

ROOT = Path(__file__).parents[1]
NAMES = [
    "Søren Ærø",
    "Anne Mette Bøttcher Jensen",
    "",
    " ",
    "Hans & Grete",
    "A <b>bold</b> name",
    "O'Brien",
    'Say "hi"',
    "Åse\u00a0Ødegård",
    "Ann*e* [x](y) _z_",
    "&amp; &lt;",
    "Bo",
    "Line\nbreak",
]
ORGANIZATIONS = ["Roskilde Bibliotekerne", "", "Køge & Co <HQ>", 'Ærø\'s "Bibliotek"']


def ordinary(template: MessageTemplate) -> MessageTemplate:
    """The same template on the plain path: every part run for every member."""
    return MessageTemplate(template.folder.parent, template.name, template.default_language, plain=True)


def fast_parts(template: MessageTemplate) -> ShapedParts:
    """The template's fast path, to see how often it ran a part."""
    assert isinstance(template._parts, ShapedParts)
    return template._parts


def members(count: int = 60) -> list[Member]:
    return [
        Member(
            email=f"m{i}.o'x&y@lib{i % 3}.example" if i % 7 == 3 else f"m{i}@lib{i % 3}.example",
            name=NAMES[i % len(NAMES)] + (f" {i}" if i % 4 == 1 else ""),
            organization=ORGANIZATIONS[i % len(ORGANIZATIONS)],
            language=("da", "en", "da", "fr")[i % 4],
            lines=(i + 2,),
        )
        for i in range(count)
    ]


def settings_with(unsubscribe_url: str | None) -> Settings:
    settings = load_settings(ROOT / "config.toml")
    sender = settings.sender.model_copy(update={"unsubscribe_url": unsubscribe_url})
    return settings.model_copy(update={"sender": sender})


def shaped(template: MessageTemplate) -> int:
    """How many shapes made a page (the fast path was taken for them)."""
    return sum(
        shape is not None
        for shapes in fast_parts(template)._shapes.values()
        for shape in shapes.built.values()
    )


@pytest.mark.parametrize(
    ("name", "unsubscribe_url"),
    [
        ("invitation", None),
        ("newsletter", None),
        ("newsletter", "https://list.example/leave?who={email}&x=1"),
        ("newsletter", "https://list.example/leave"),
        ("cancellation", None),
    ],
)
def test_shipped_templates_give_every_member_the_ordinary_page(
    name: str, unsubscribe_url: str | None
) -> None:
    settings = settings_with(unsubscribe_url)
    folder = settings.resolve(settings.files.templates)
    fast = MessageTemplate(folder, name, settings.sender.language)
    slow = ordinary(fast)
    meeting = settings.meeting(MEETING_ID)
    before = meeting.snapshot() | {"title": "Old & <odd> 'title'", "location": ""}
    composer = Composer(settings, now=SAMPLE_NOW)
    for kind, previous in (("new", None), ("update", before)):
        for member in members():
            got, want = (
                composer.rendered(
                    Delivery(member, Campaign(f"{name}:x", template, meeting, None, 0, "uid"), kind, previous)
                )
                for template in (fast, slow)
            )
            assert got == want, member
    assert shaped(fast) >= 2  # the fast path was taken (da, en, and new and updated)


def page_folder(tmp_path: Path, body: str, layout: str | None = None) -> Path:
    folder = tmp_path / "templates"
    (folder / "custom" / "da").mkdir(parents=True)
    shutil.copy(ROOT / "templates" / "_layout.html", folder / "_layout.html")
    if layout is not None:
        (folder / "_layout.html").write_text(layout, encoding="utf-8")
    (folder / "custom" / "da" / "subject.txt").write_text("Hej {{ recipient.name }}\n", encoding="utf-8")
    (folder / "custom" / "da" / "body.txt").write_text("Hej\n", encoding="utf-8")
    (folder / "custom" / "da" / "body.html").write_text(body, encoding="utf-8")
    return folder


def context(member: Member, **extra: Any) -> dict[str, Any]:
    return {
        "recipient": member.context(),
        "sender": {"name": "Brugernes Rum", "email": "rum@example.org", "reply_to": None},
        "unsubscribe": None,
        "update": False,
        **extra,
    }


LAYOUT_RAW = (
    (ROOT / "templates" / "_layout.html")
    .read_text(encoding="utf-8")
    .replace(
        '<tr><td class="content">',
        '<tr><td class="content">{% autoescape false %}<p>{{ recipient.name }}</p>{% endautoescape %}',
    )
)
LAYOUT_HEAD = (
    (ROOT / "templates" / "_layout.html")
    .read_text(encoding="utf-8")
    .replace("</title>", "</title>{{ recipient.name }}")
)
LAYOUT_TRANSFORMS = (
    (ROOT / "templates" / "_layout.html")
    .read_text(encoding="utf-8")
    .replace("<title>{{ subject }}</title>", "<title>{{ recipient.name|upper }}</title>")
)


@pytest.mark.parametrize(
    ("body", "layout", "differs"),
    [
        # branches on member data
        (
            "{% if recipient.name|length > 5 %}<h1>Long {{ recipient.name }}</h1>"
            "{% else %}<p>Short {{ recipient.name }}</p>{% endif %}",
            None,
            ("<h1", "<p style"),
        ),
        # transforms member data
        ("<p>{{ recipient.name|upper }} {{ recipient.organization|length }}</p>", None, ("BO", "SØREN")),
        # in an attribute an attribute selector sees
        (
            '<style>p[title="Køge"] { color: red; }</style><p title="{{ recipient.organization }}">x</p>',
            None,
            ("color: red", 'margin: 0 0 12px;"'),
        ),
        # in a class a class selector sees
        (
            '<style>p.Koge { color: red; }</style><p class="{{ recipient.organization }}">x</p>',
            None,
            ("color: red", 'margin: 0 0 12px;"'),
        ),
        # inside <style>
        (
            "<style>p { font-family: {{ recipient.organization }}; }</style><p>x</p>",
            None,
            ("Køge", "Roskilde"),
        ),
        # in a style attribute
        ('<p style="color: {{ recipient.organization }}">x</p>', None, ("Køge", "Roskilde")),
        # a selector on text content
        (
            "<style>td:empty { color: red; }</style>"
            "<table><tr><td>{{ recipient.organization }}</td></tr></table>",
            None,
            (),
        ),
        # a layout that transforms member data
        ("<p>{{ recipient.name }}</p>", LAYOUT_TRANSFORMS, ("BO", "SØREN")),
        # member data right after an unfinished character reference
        ("<p>&not{{ recipient.organization }}</p>", None, ("\u2209", "¬Roskilde")),
        # ... however long the reference
        ("<p>&#" + "0" * 39 + "{{ recipient.organization }}</p>", None, ("Roskilde",)),
        # text the HTML parser moves out of a table, after the same data in an attribute
        (
            '<table>\n<tr><td><img src="logo.png" alt="{{ recipient.name }}"></td></tr>\n'
            "{{ recipient.name }}\n</table>",
            None,
            ("&lt;x&gt;",),
        ),
        # a layout printing member data unescaped
        ("<p>Hej</p>", LAYOUT_RAW, ("<x>",)),
        # member data in <head>, where the parser moves text (and its leading space)
        ("<p>Hej</p>", LAYOUT_HEAD, (" Bo",)),
    ],
)
def test_a_template_that_looks_at_member_data_gets_the_ordinary_page(
    tmp_path: Path, body: str, layout: str | None, differs: tuple[str, ...]
) -> None:
    fast = MessageTemplate(page_folder(tmp_path, body, layout), "custom", "da")
    slow = ordinary(fast)
    people = [
        Member(email="bo@x.example", name="Bo", organization="Koge"),
        Member(email="s@x.example", name="Søren Ærø", organization="Køge"),
        Member(email="r@x.example", name="Søren Ærø", organization="Roskilde"),
        Member(email="n@x.example", name="Bo", organization="in;"),
        Member(email="e@x.example", name="Ann", organization=""),
        Member(email="h@x.example", name='Hans & "Grete" <x>', organization="65"),
        Member(email="l@x.example", name=" Bo", organization="Roskilde"),
    ]
    pages = []
    for member in people:
        got, want = (t.render("da", context(member)) for t in (fast, slow))
        assert got == want, member
        pages.append(got.html or "")
    for needle in differs:  # the members' pages really do differ where the template looks
        assert any(needle in page for page in pages), needle


def test_members_whose_pages_are_filled_in_get_the_same_bytes(tmp_path: Path) -> None:
    body = (
        '<p>Kære {{ recipient.name }}</p><p><a href="mailto:{{ recipient.email }}" '
        'title="{{ recipient.name }}">{{ recipient.organization or "-" }}</a></p>'
    )
    fast = MessageTemplate(page_folder(tmp_path, body), "custom", "da")
    slow = ordinary(fast)
    for member in members(120):
        got, want = (t.render("da", context(member)) for t in (fast, slow))
        assert got == want, member
    assert shaped(fast) >= 1


def validation_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    (folder / "custom" / "da").mkdir(parents=True)
    layout = (ROOT / "templates" / "_layout.html").read_text(encoding="utf-8")
    layout = layout.replace(
        "<title>{{ subject }}</title>", "<title>{{ subject }}{{ sender.extra.x }}</title>"
    )
    (folder / "_layout.html").write_text(layout, encoding="utf-8")
    (folder / "custom" / "da" / "subject.txt").write_text("{{ meeting.title }}\n", encoding="utf-8")
    (folder / "custom" / "da" / "body.txt").write_text("Hej\n\n{{ recipient.x.y }}\n", encoding="utf-8")
    (folder / "custom" / "da" / "body.html").write_text("<p>Hej</p>\n", encoding="utf-8")
    return folder


def test_validation_fails_for_the_member_it_fails_for(tmp_path: Path) -> None:
    template = MessageTemplate(validation_folder(tmp_path), "custom", "da")
    good = {
        "meeting": {"title": "Møde"},
        "sender": {"name": "Rum", "email": "r@x", "reply_to": None, "extra": {"x": ""}},
    }
    people = [{"name": f"M{i}", "x": {"y": i}} for i in range(5)]
    for person in people:
        template.validate("da", {**good, "recipient": person, "unsubscribe": None})

    with pytest.raises(TemplateError) as body:  # only this member's x has no y
        template.validate("da", {**good, "recipient": {"name": "Odd", "x": "text"}, "unsubscribe": None})
    assert (body.value.path, body.value.line) == (template.folder / "da" / "body.txt", 3)

    with pytest.raises(TemplateError) as subject:  # after many hits on the same part
        template.validate("da", {**good, "meeting": {}, "recipient": people[0], "unsubscribe": None})
    assert (subject.value.path, subject.value.line) == (template.folder / "da" / "subject.txt", 1)

    odd_sender = {**good["sender"], "extra": "text"}
    for _ in range(2):  # a failure is never remembered as a success
        with pytest.raises(TemplateError) as layout:
            template.validate(
                "da", {**good, "sender": odd_sender, "recipient": people[1], "unsubscribe": None}
            )
        assert layout.value.path == template.folder.parent / "_layout.html"
        title = template.folder.parent / "_layout.html"
        lines = title.read_text(encoding="utf-8").splitlines()
        assert layout.value.line == next(n for n, text in enumerate(lines, 1) if "<title>" in text)

    template.validate("da", {**good, "recipient": people[2], "unsubscribe": None})
    assert fast_parts(template)._validated  # the memo was used


def test_validation_memo_keys_values_not_just_equality(tmp_path: Path) -> None:
    """1.0 == 1 (and True == 1), but a float has no numerator: equal values are not the same."""
    folder = tmp_path / "templates"
    (folder / "custom" / "da").mkdir(parents=True)
    (folder / "custom" / "da" / "subject.txt").write_text("{{ meeting.n.numerator }}\n", encoding="utf-8")
    (folder / "custom" / "da" / "body.txt").write_text("Hej\n", encoding="utf-8")
    template = MessageTemplate(folder, "custom", "da")
    template.validate("da", {"meeting": {"n": 1}, "recipient": {}})
    template.validate("da", {"meeting": {"n": True}, "recipient": {}})
    with pytest.raises(TemplateError):
        template.validate("da", {"meeting": {"n": 1.0}, "recipient": {}})


def test_a_subject_is_rendered_once_unless_it_reads_the_member(tmp_path: Path) -> None:
    folder = page_folder(tmp_path, "<p>x</p>")
    people = [Member(email=f"m{n}@x.example", name=name) for n, name in enumerate(["Bo", "Søren Ærø", ""])]
    personal = MessageTemplate(folder, "custom", "da")
    assert [personal.render("da", context(m)).subject for m in people] == ["Hej Bo", "Hej Søren Ærø", "Hej"]
    assert not [key for key in fast_parts(personal)._validated if "subject.txt" in key]  # it reads the member
    assert (
        len([key for key in fast_parts(personal)._outputs if key[1] == "subject.txt"]) == 2
    )  # a name, and none

    (folder / "custom" / "da" / "subject.txt").write_text("Nyt fra {{ sender.name }}\n", encoding="utf-8")
    shared = MessageTemplate(folder, "custom", "da")
    runs = 0
    run = fast_parts(shared).run

    def counted(template: Any, values: Any) -> str:
        nonlocal runs
        runs += template.name == "custom/da/subject.txt"
        return run(template, values)

    fast_parts(shared).run = counted  # type: ignore[method-assign]
    rendered = [shared.render("da", context(m)).subject for m in people]
    assert rendered == ["Nyt fra Brugernes Rum"] * 3 and runs == 1
    assert [ordinary(shared).render("da", context(m)).subject for m in people] == rendered


def body_only(tmp_path: Path, body: str) -> MessageTemplate:
    folder = tmp_path / "templates"
    (folder / "custom" / "da").mkdir(parents=True)
    (folder / "custom" / "da" / "subject.txt").write_text("Hej\n", encoding="utf-8")
    (folder / "custom" / "da" / "body.txt").write_text(body, encoding="utf-8")
    return MessageTemplate(folder, "custom", "da")


def test_a_part_using_member_data_plainly_is_checked_once_per_shape_and_every_failure_still_shows(
    tmp_path: Path,
) -> None:
    template = body_only(tmp_path, "Hej {{ recipient.name or 'dig' }}\n{{ recipient.telefon }}\n")
    runs = []
    run = fast_parts(template).run

    def counted(part: Any, values: Any) -> str:
        if part.name.endswith("body.txt"):
            runs.append(values["recipient"].get("name"))
        return run(part, values)

    fast_parts(template).run = counted  # type: ignore[method-assign]
    for person in [
        {"name": "Søren Ærø", "telefon": "12 34"},
        {"name": "Bo", "telefon": "5"},  # the same shape: not run again
        {"name": "", "telefon": "9"},  # a blank name takes the other branch: run
        {"name": "Åse", "telefon": "7"},
    ]:
        template.validate("da", {"recipient": person})
    assert runs == ["Søren Ærø", ""]
    with pytest.raises(TemplateError) as failed:  # no telefon column: another structure, run
        template.validate("da", {"recipient": {"name": "Ann"}})
    assert failed.value.line == 2


@pytest.mark.parametrize(
    ("body", "fine", "failing"),
    [
        # a character of the name: "Bo" has no fourth
        ("{{ recipient.name[3] }}\n", "Søren", "Bo"),
        # the same behind a test of truth
        ("{% if recipient.name %}{{ recipient.name[3] }}{% endif %}\n", "Søren", "Bo"),
    ],
)
def test_a_lookup_into_member_text_is_checked_for_every_member(
    tmp_path: Path, body: str, fine: str, failing: str
) -> None:
    template = body_only(tmp_path, body)
    template.validate("da", {"recipient": {"name": fine}})
    with pytest.raises(TemplateError):
        template.validate("da", {"recipient": {"name": failing}})


def test_the_shipped_invitation_is_checked_once_per_shape() -> None:
    template = MessageTemplate(ROOT / "templates", "invitation", "da")
    meeting = {"title": "Møde", "date": "d", "when": "x", "location": "y", "description": "z"}
    meeting |= {"status": "confirmed", "agenda": []}
    sender = {"name": "R", "email": "r@x.example", "reply_to": None}
    shared = {"meeting": meeting, "update": False, "changes": [], "sender": sender}
    for member in members(20):
        template.validate("da", {**shared, "recipient": member.context(), "unsubscribe": None})
    keys = [key for key in fast_parts(template)._validated if key[2] in ("body.txt", "body.html")]
    assert 2 <= len(keys) < 20  # a few shapes (names blank or not, organisations...), not 20


def parts_folder(tmp_path: Path, subject: str, text: str, html: str) -> Path:
    folder = page_folder(tmp_path, html)
    (folder / "custom" / "da" / "subject.txt").write_text(subject, encoding="utf-8")
    (folder / "custom" / "da" / "body.txt").write_text(text, encoding="utf-8")
    return folder


def part_outputs(template: MessageTemplate, part: str) -> int:
    """How many shapes of member data a part was run for once (the fast path was taken)."""
    return sum(split is not None for key, split in fast_parts(template)._outputs.items() if key[1] == part)


PLAIN_TEXT = (
    "Kære {{ recipient.name or 'medlem' }},\n"
    "{% if recipient.organization %}fra {{ recipient.organization }}{% endif %}\n"
    "{{ recipient.email }} · {% if recipient.groups %}i grupper{% endif %} · "
    "{% if recipient.x is defined %}x{% endif %}\n"
    "{{ 'ingen' if not recipient.name else recipient.name }} {{ sender.name }}\n"
)
PLAIN_HTML = (
    '<p>Kære {{ recipient.name }}</p><p><a href="mailto:{{ recipient.email }}" '
    'title="{{ recipient.name }}">{{ recipient.organization or "-" }}</a></p>'
)


@pytest.mark.parametrize(
    ("subject", "text", "html", "fast"),
    [
        # printed as they are, or tested: each part once per shape of the member's data
        (
            "Hej {{ recipient.name }} fra {{ sender.name }}\n",
            PLAIN_TEXT,
            PLAIN_HTML,
            ("subject.txt", "body.txt", "body.html"),
        ),
        # transformed, looked into, joined, assigned, looped over: run for every member
        (
            "{{ recipient.name|upper }}\n",
            "{{ recipient.email[0] }}\n",
            "<p>{{ recipient.name ~ '!' }}</p>",
            (),
        ),
        (
            "{% set n = recipient.name %}{{ n }}\n",
            "{% for c in recipient.organization %}{{ c }}.{% endfor %}\n",
            "<p>{{ recipient.name|length }} {{ recipient.name == 'Bo' }}</p>",
            (),
        ),
        # the whole member printed (a dict's text is not the tokens'), or read by a method
        (
            "{{ recipient }}\n",
            "{{ recipient.items() | list }} {{ recipient.groups }}\n",
            "<p>{{ recipient.name.title() }}</p>",
            (),
        ),
    ],
)
def test_parts_run_once_per_shape_give_every_member_the_ordinary_output(
    tmp_path: Path, subject: str, text: str, html: str, fast: tuple[str, ...]
) -> None:
    fast_template = MessageTemplate(parts_folder(tmp_path, subject, text, html), "custom", "da")
    slow = ordinary(fast_template)
    people = [
        *members(60),
        Member(email="t@x.example", name="\ue000" + "0\ue001"),
        Member(email="b@x.example"),
    ]
    for member in people:
        got, want = (t.render("da", context(member)) for t in (fast_template, slow))
        assert got == want, member
    for part in ("subject.txt", "body.txt", "body.html"):
        assert (part_outputs(fast_template, part) > 0) == (part in fast), part
    if fast:  # a handful of shapes (blank or not, organisation or not), not one per member
        assert len(fast_parts(fast_template)._outputs) < 20


def test_a_part_run_once_per_shape_still_fails_for_the_member_it_fails_for(tmp_path: Path) -> None:
    text = "Kære {{ recipient.name }}\nDin rolle: {{ recipient.rolle }}\n"
    template = MessageTemplate(parts_folder(tmp_path, "Hej\n", text, "<p>Hej</p>"), "custom", "da")
    with_role = Member(email="a@x.example", name="Bo", fields={"rolle": "formand"})
    assert template.render("da", context(with_role)).text == "Kære Bo\nDin rolle: formand\n"
    with pytest.raises(TemplateError) as failed:
        template.render("da", context(Member(email="b@x.example", name="Søren")))
    assert failed.value.path == template.folder / "da" / "body.txt"
    assert failed.value.line == 2
    assert "rolle" in str(failed.value)


@pytest.mark.parametrize(
    ("subject", "text", "sender_name"),
    [
        # text shaped like the tokens, in the template, or in data that is not the member's
        ("Hej {{ recipient.name }}\n", "Kære {{ recipient.name }} \ue0000\ue001 \ue0009\ue001\n", "Rum"),
        ("Hej {{ recipient.name }} fra {{ sender.name }}\n", "Kære {{ recipient.name }}\n", "\ue0000\ue001"),
        ("Hej {{ recipient.name }}\n", "Fra {{ sender.name }} til {{ recipient.name }}\n", "x\ue000y"),
    ],
)
def test_text_like_a_token_that_is_not_member_data_stays_as_it_is(
    tmp_path: Path, subject: str, text: str, sender_name: str
) -> None:
    html = "<p>{{ recipient.name }} {{ sender.name }} \ue0001\ue001</p>"
    fast = MessageTemplate(parts_folder(tmp_path, subject, text, html), "custom", "da")
    slow = ordinary(fast)
    for member in (Member(email="bo@x.example", name="Bo"), Member(email="s@x.example", name="Søren")):
        values = {**context(member), "sender": {"name": sender_name, "email": "r@x.org", "reply_to": None}}
        fast.validate("da", values)
        assert fast.render("da", values) == slow.render("da", values)


def test_a_part_reading_the_unsubscribe_link_only_runs_once_per_shape(tmp_path: Path) -> None:
    html = '<p>Hej</p><p><a href="{{ unsubscribe.url }}">Afmeld</a></p>'
    fast = MessageTemplate(
        parts_folder(tmp_path, "Hej\n", "Afmeld: {{ unsubscribe.url }}\n", html), "custom", "da"
    )
    slow = ordinary(fast)
    for n in range(40):
        values = {
            **context(Member(email=f"m{n}@x.example")),
            "unsubscribe": {
                "url": f"https://x.example/u?m={n}&a=1",
                "mailto": "mailto:rum@example.org?subject=unsubscribe",
                "email": "rum@example.org",
            },
        }
        assert fast.render("da", values) == slow.render("da", values)
    assert part_outputs(fast, "body.txt") == 1 and part_outputs(fast, "body.html") == 1
    assert not [
        key for key in fast_parts(fast)._validated if key[2] in ("body.txt", "body.html")
    ]  # nothing kept per member
