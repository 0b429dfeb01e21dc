"""After a change (a member list uploaded, a meeting saved) the desk redirects to the page that
says what was done (Post/Redirect/Get): reloading that page, or coming back to it, does not make
the change again (no second dated copy of the list, no second save) and says the same."""

from __future__ import annotations

from conftest import FIXED, Project
from desk_client import running_desk
from test_desk_editing import DANISH_LIST, NEW, commented, opened, workbook
from test_desk_pages import text_of


def test_reloading_the_page_after_an_upload_or_a_save_changes_nothing(project: Project) -> None:
    commented(project)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/members")
        replaced = client.post_files(
            "/members/upload", {}, [("file", "medlemmer.xlsx", workbook(DANISH_LIST))]
        )
        assert replaced.redirected.startswith("/members?done="), replaced.redirected
        said = "Den gamle er gemt som recipients-2026-11-25T093000.csv"
        assert said in text_of(replaced.text)
        files = sorted(p.name for p in project.root.iterdir())
        config = project.config.read_text(encoding="utf-8")
        again = client.get(replaced.redirected)  # the browser's reload: a GET, nothing posted
        assert said in text_of(again.text) and "Listen er erstattet: 4 medlemmer" in text_of(again.text)
        assert sorted(p.name for p in project.root.iterdir()) == files
        assert project.config.read_text(encoding="utf-8") == config

        client.get("/meetings/edit")
        saved = client.post("/meetings/edit", NEW)
        assert saved.redirected.startswith("/meetings?done=") and "Gemt i config.toml" in text_of(saved.text)
        config = project.config.read_text(encoding="utf-8")
        again = client.get(saved.redirected)
        assert "Gemt i config.toml" in text_of(again.text) and "already" not in text_of(again.text)
        assert project.config.read_text(encoding="utf-8") == config
        assert sorted(p.name for p in project.root.iterdir()) == files
        plain = text_of(client.get("/meetings?done=from-another-day").text)
        assert "Gemt" not in plain and NEW["title"] in plain
