"""Mistakes a coordinator makes, and the answer she gets: each says where and what to do."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import FIXED

from mailer.cli import main


def run(*args: str) -> tuple[int, str, str]:
    """`mailer ARGS` at a fixed time: exit code, output and errors."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", err)
        code = main(list(args), clock=lambda: FIXED, out=out)
    return code, out.getvalue(), err.getvalue()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_config_is_taken_after_the_command_too(sample: Path) -> None:
    code, out, _ = run("check", "--config", str(sample))

    assert code == 0 and "all good" in out


def test_config_after_the_command_wins_over_the_one_before(sample: Path, tmp_path: Path) -> None:
    code, out, _ = run("--config", str(tmp_path / "elsewhere.toml"), "check", "--config", str(sample))

    assert code == 0 and "all good" in out


def test_a_missing_config_names_the_full_path_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "mappe" / "config.toml"

    code, _, err = run("check", "--config", str(missing))

    assert code == 2
    assert err == (
        f"error: config.toml: not found (looked for {missing}); say where it is with --config PATH "
        "(before or after the command), or make a new folder with `mailer init`\n"
    )


def test_a_missing_member_list_names_the_full_path_and_the_setting(sample: Path) -> None:
    (sample.parent / "recipients.csv").unlink()

    code, _, err = run("check", "--config", str(sample))

    assert code == 2
    assert f"looked for {sample.parent / 'recipients.csv'}" in err
    assert "files.recipients" in err


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ('"21-09-2027 13:00"', "'21-09-2027 13:00' is not a date and time"),
        ("2027-09-21 13:00", "2027-09-21 13:00 is not a date and time"),  # not TOML: no seconds
        ('"tirsdag"', "'tirsdag' is not a date and time"),
    ],
)
def test_a_time_in_the_wrong_form_names_the_meeting_and_the_right_form(
    sample: Path, written: str, shown: str
) -> None:
    edit(sample, "start = 2027-09-21T13:00:00", f"start = {written}")

    code, _, err = run("check", "--config", str(sample))

    assert code == 2
    line = sample.read_text(encoding="utf-8").splitlines().index(f"start = {written}") + 1
    assert err == (
        f"error: config.toml:{line}: meeting 2027-09-21-hvad-siger-brugerne, start: {shown}; write it as "
        "start = 2027-09-21T13:00:00 (year-month-day, T, hours:minutes:seconds; no quotes)\n"
    )


def test_a_danish_date_is_shown_back_in_the_right_form(sample: Path) -> None:
    edit(sample, "end = 2027-11-16T14:30:00", 'end = "16.11.2027 14:30"')

    code, _, err = run("check", "--config", str(sample))

    assert code == 2
    assert "meeting 2027-11-16-samskabelse, end: '16.11.2027 14:30' is not a date and time" in err
    assert "write it as end = 2027-11-16T14:30:00" in err


def test_an_unknown_key_suggests_the_closest_known_one(sample: Path) -> None:
    edit(sample, 'location = "Køge Bibliotek', 'loction = "Køge Bibliotek')

    code, _, err = run("check", "--config", str(sample))

    assert code == 2
    assert err.endswith("meeting 2027-11-16-samskabelse, loction: unknown key; did you mean `location`?\n")


def test_an_unknown_key_far_from_any_lists_the_keys_of_its_table(sample: Path) -> None:
    edit(sample, "[smtp]", "[smtp]\nflyvemaskine = 1")

    code, _, err = run("check", "--config", str(sample))

    assert code == 2
    assert "smtp.flyvemaskine: unknown key (a typo?); the keys here are: host, port, security," in err


def test_a_csv_header_used_as_written_says_which_name_the_column_has(sample: Path) -> None:
    body = sample.parent / "templates" / "invitation" / "da" / "body.txt"
    edit(body, "recipient.name", "recipient.bibliotek")

    code, out, err = run("check", "--config", str(sample))

    assert code == 2
    assert err == (
        "error: invitation/da/body.txt:1: `recipient.bibliotek` does not exist: "
        'a column headed "bibliotek" is `recipient.organization` in templates\n'
    )
    assert "  invitation: FAILED (the error is below)\n" in out  # listed, not left out
    assert "templates: 4\n" in out


def test_an_unknown_variable_names_the_ones_that_exist(sample: Path) -> None:
    edit(sample.parent / "templates" / "invitation" / "da" / "subject.txt", "meeting.title", "meeting.titel")

    code, _, err = run("check", "--config", str(sample))

    assert code == 2
    assert err.startswith(
        "error: invitation/da/subject.txt:1: `meeting.titel` does not exist (did you mean `meeting.title`?); "
        "meeting has: agenda, "
    )


def test_a_misspelt_top_level_variable_suggests_the_right_one(sample: Path) -> None:
    edit(sample.parent / "templates" / "reminder" / "da" / "body.txt", "recipient.", "recipent.")

    code, _, err = run("check", "--config", str(sample))

    assert code == 2
    assert "`recipent` does not exist (did you mean `recipient`?); the variables are: " in err
    assert "meeting" in err.rsplit("the variables are: ", 1)[1]
