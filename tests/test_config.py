"""config.toml: every mistake a coordinator can make is reported with the file, line and key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailer.cli import main
from mailer.config import config_path, load_settings
from mailer.errors import ConfigError

CONFIG = Path(__file__).parent / "data" / "config"
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def error_of(name: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG / name)
    return err.value


def test_valid_config_loads_with_paths_relative_to_it() -> None:
    settings = load_settings(CONFIG / "valid.toml")

    assert settings.sender.name == "Brugernes Rum"
    assert settings.sender.reply_to == "koordinator@roskilde.example"
    assert settings.sender.domain == "roskilde.example"
    assert settings.smtp.host == "smtp.roskilde.example"
    assert settings.resolve(settings.files.recipients) == CONFIG.resolve() / "medlemmer.csv"
    assert settings.files.templates == Path("templates")  # defaults fill what the file leaves out


def test_naive_times_are_local_times_in_the_meetings_zone() -> None:
    first, second = load_settings(CONFIG / "valid.toml").meetings

    assert first.start == datetime(2027, 9, 21, 13, 0, tzinfo=COPENHAGEN)
    assert first.start.astimezone(UTC) == datetime(2027, 9, 21, 11, 0, tzinfo=UTC)  # summer: UTC+2
    # An aware time (…Z) is converted into the meeting's zone; the naive end is local.
    assert second.start.tzinfo == COPENHAGEN
    assert (second.start.hour, second.start.minute) == (10, 0)
    assert second.end.astimezone(UTC) == datetime(2027, 11, 16, 13, 30, tzinfo=UTC)  # winter: UTC+1
    assert second.status == "tentative"


@pytest.mark.parametrize(
    ("name", "line", "field", "message"),
    [
        ("unknown_key.toml", 7, "smtp.prot", "unknown key; did you mean `port`?"),
        (
            "meeting_key_typo.toml",
            13,
            "meeting 2027-11-16-samskabelse, titel",
            "unknown key; did you mean `title`?",
        ),
        ("end_before_start.toml", 11, "meeting 2027-11-16-samskabelse", "end must be after start"),
        (
            "bad_timezone.toml",
            10,
            "meeting 2027-09-21-hvad-siger-brugerne, timezone",
            "'Europe/København' is not an IANA time zone",
        ),
        (
            "duplicate_meeting_ids.toml",
            12,
            "meeting 2027-09-21-hvad-siger-brugerne, id",
            "'2027-09-21-hvad-siger-brugerne' is used twice",
        ),
        (
            "secret_in_config.toml",
            8,
            "smtp.password",
            "secrets do not belong in config.toml; set MAILER_SMTP__PASSWORD in the environment",
        ),
    ],
)
def test_config_errors_name_line_and_key(name: str, line: int, field: str, message: str) -> None:
    err = error_of(name)

    assert (err.line, err.field, err.message) == (line, field, message)
    assert str(err) == f"{name}:{line}: {field}: {message}"


def test_the_line_named_is_the_line_at_fault() -> None:
    """Guard against off-by-one: the named line really holds the key."""
    for name, key in [
        ("unknown_key.toml", "prot"),
        ("meeting_key_typo.toml", "titel"),
        ("bad_timezone.toml", "timezone"),
        ("secret_in_config.toml", "password"),
    ]:
        err = error_of(name)
        assert err.line is not None
        text = (CONFIG / name).read_text(encoding="utf-8").splitlines()[err.line - 1]
        assert text.startswith(f"{key} ="), (name, text)


def test_secret_is_refused_without_echoing_it() -> None:
    err = error_of("secret_in_config.toml")

    assert "hemmeligt-kodeord" not in str(err)


def test_not_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[sender]\nname = "Brugernes Rum"\nemail = \n', encoding="utf-8")

    with pytest.raises(ConfigError) as err:
        load_settings(path)

    assert err.value.line == 3
    assert "not valid TOML" in str(err.value)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "recipients = medlemmer.xlsx",
            'medlemmer.xlsx needs quotes around it: write recipients = "medlemmer.xlsx"',
        ),
        (
            'recipients = "C:\\Users\\anne\\Brugernes Rum\\medlemmer.xlsx"',
            "a \\ inside double quotes starts an escape such as \\n; write a Windows path in single quotes, "
            "recipients = 'C:\\Users\\anne\\Brugernes Rum\\medlemmer.xlsx', or with /, "
            'recipients = "C:/Users/anne/Brugernes Rum/medlemmer.xlsx"',
        ),
        ('recipients = "D:\\Dokumenter\\medlemmer.xlsx"', "recipients = 'D:\\Dokumenter\\medlemmer.xlsx'"),
    ],
)
def test_a_file_named_without_quotes_or_with_backslashes_says_what_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, said: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[sender]\nname = "Brugernes Rum"\n\n[files]\n{written}\n', encoding="utf-8")

    assert main(["--config", str(path), "check"]) == 2

    error = capsys.readouterr().err
    assert "config.toml:5: not valid TOML: " in error and said in error, error


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "config.toml")


def test_environment_overrides_one_key_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_SMTP__HOST", "relay.roskilde.example")
    monkeypatch.setenv("MAILER_SENDER__NAME", "Brugernes Rum – Roskilde")

    settings = load_settings(CONFIG / "valid.toml")

    assert settings.smtp.host == "relay.roskilde.example"
    assert settings.smtp.port == 587  # from the file still
    assert settings.smtp.username == "brugernesrum@roskilde.example"
    assert settings.sender.name == "Brugernes Rum – Roskilde"
    assert settings.sender.email == "brugernesrum@roskilde.example"


def test_password_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(CONFIG / "valid.toml").smtp.password is None
    monkeypatch.setenv("MAILER_SMTP__PASSWORD", "hemmeligt-kodeord")

    settings = load_settings(CONFIG / "valid.toml")

    assert settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "hemmeligt-kodeord"
    assert "hemmeligt-kodeord" not in repr(settings)


def test_a_bad_value_from_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_SMTP__PORT", "fem-hundrede")

    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG / "valid.toml")

    assert err.value.field == "smtp.port"
    assert "MAILER_SMTP__PORT" in str(err.value)
    assert err.value.line is None  # not a line of the file: the file says 587


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_path(None) == Path("config.toml")
    monkeypatch.setenv("MAILER_CONFIG", "/srv/mailer/config.toml")
    assert config_path(None) == Path("/srv/mailer/config.toml")
    assert config_path("other.toml") == Path("other.toml")


def test_cli_exits_2_naming_file_line_and_key(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(CONFIG / "unknown_key.toml"), "check"])

    assert code == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: unknown_key.toml:7: smtp.prot: unknown key; did you mean `port`?"


def test_cli_reads_mailer_config_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILER_CONFIG", str(CONFIG / "duplicate_meeting_ids.toml"))

    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "duplicate_meeting_ids.toml:12: meeting 2027-09-21-hvad-siger-brugerne, id" in err


def test_unknown_meeting_lists_the_known_ones() -> None:
    settings = load_settings(CONFIG / "valid.toml")

    with pytest.raises(ConfigError) as err:
        settings.meeting("2027-09-20-hvad-siger-brugerne")

    assert "2027-09-21-hvad-siger-brugerne, 2027-11-16-samskabelse" in str(err.value)


def test_mailer_plain_turns_the_speed_paths_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(CONFIG / "valid.toml").plain is False
    monkeypatch.setenv("MAILER_PLAIN", "1")
    assert load_settings(CONFIG / "valid.toml").plain is True


SECRET = "hemmelig-kode-æøå-4711"


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize(
    ("variable", "said"),
    [
        ("MAILER_SMTP__PASWORD", "smtp.pasword: unknown key; did you mean `password`?"),
        ("MAILER_IMAP__PASSWORT", "imap.passwort: unknown key"),
        ("MAILER_SMTP__OAUTH__CLIENT_SECRET", "smtp.oauth.client_secret: unknown key"),
    ],
)
def test_a_secret_under_a_wrong_name_is_never_shown(
    sample: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    said: str,
    debug: list[str],
) -> None:
    monkeypatch.setenv(variable, SECRET)

    code = main(["--config", str(sample), *debug, "check"])

    out, err = capsys.readouterr()
    assert code == 2
    assert said in err and f"(set by {variable})" in err
    assert SECRET not in out + err
    if debug:
        assert "Traceback" in err and "[type=extra_forbidden]" in err  # the cause, without its value


def test_a_secret_key_misspelt_in_the_file_is_never_shown(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample.write_text(
        sample.read_text(encoding="utf-8").replace("[smtp]", f'[smtp]\npasword = "{SECRET}"', 1),
        encoding="utf-8",
    )

    code = main(["--config", str(sample), "--debug", "check"])

    out, err = capsys.readouterr()
    assert code == 2
    assert "smtp.pasword: unknown key" in err
    assert SECRET not in out + err
