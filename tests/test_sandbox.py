"""Templates from someone else: rendered in Jinja2's sandbox, so a copied template cannot run
Python, read one member's data through Jinja's private context, or change the meeting data every
member's message is made from. Refused by `mailer check` (exit 2, naming the file) on both paths,
and nothing is written or sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project

# Each is put in the invitation's Danish body.txt, after its first line.
HOSTILE = {
    "python": "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "private-context": "{{ self._TemplateReference__context.recipient.name }}",
    "shared-data": "{% set _ = meeting.update(title=recipient.name) %}{{ meeting.title }}",
}

pytestmark = pytest.mark.usefixtures("plain")


def _plant(project: Project, kind: str) -> Path:
    marker = project.root / "ran"
    body = project.root / "templates" / "invitation" / "da" / "body.txt"
    first, rest = body.read_text(encoding="utf-8").split("\n", 1)
    body.write_text(f"{first}\n{HOSTILE[kind].replace('MARKER', str(marker))}\n{rest}", encoding="utf-8")
    return marker


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_check_refuses_a_template_that_reaches_beyond_its_data(
    project: Project, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = _plant(project, kind)
    code, _ = project.main("check")
    out = capsys.readouterr().err
    assert code == 2
    assert "invitation/da/body.txt" in out
    assert "may not" in out
    assert not marker.exists()  # nothing ran


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_preview_writes_nothing_for_such_a_template(
    project: Project, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = _plant(project, kind)
    code, _ = project.main("preview", "invitation", "--meeting", project.meetings[0]["id"])
    out = capsys.readouterr().err
    assert code == 2, out
    assert "may not" in out
    assert not marker.exists()
    assert not list((project.root / "outbox").rglob("*.eml"))
