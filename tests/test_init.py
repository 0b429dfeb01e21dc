"""`mailer init`: a new folder that `mailer check` passes in, from flags or from answers typed at a
terminal (a real pseudo-terminal), that never overwrites a file, and that works from an installed
wheel as well as from the checkout.
"""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, fixed_clock

from mailer.cli import main


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), clock=fixed_clock, out=out)
    return code, out.getvalue()


def check_passes(folder: Path) -> str:
    code, out = run("--config", str(folder / "config.toml"), "check")
    assert code == 0, out
    assert "all good" in out
    return out


@pytest.mark.parametrize(
    ("provider", "host", "auth", "rate"),
    [
        ("microsoft365", "smtp.office365.com", "xoauth2", 30),
        ("gmail", "smtp.gmail.com", "password", None),
        ("other", "mail.odsherred.example", "password", None),
    ],
)
def test_flags_make_a_folder_check_passes_in(
    tmp_path: Path, provider: str, host: str, auth: str, rate: int | None
) -> None:
    folder = tmp_path / "netværket"
    extra = ["--host", host] if provider == "other" else []
    code, out = run(
        "init",
        str(folder),
        "--name",
        "Brugernes Rum",
        "--email",
        "rum@koege.example",
        "--provider",
        provider,
        *extra,
    )
    assert code == 0, out
    assert f"made in {folder}: config.toml, recipients.csv, templates/" in out
    config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    assert config["sender"] == {"name": "Brugernes Rum", "email": "rum@koege.example", "language": "da"}
    assert (config["smtp"]["host"], config["smtp"]["port"], config["smtp"]["security"]) == (
        host,
        587,
        "starttls",
    )
    assert (config["smtp"]["username"], config["smtp"]["auth"]) == ("rum@koege.example", auth)
    assert config["smtp"].get("rate_per_minute") == rate
    assert ("oauth" in config["smtp"]) == (auth == "xoauth2")
    # every key written has a comment saying what it is for
    for line in (folder / "config.toml").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#") and not line.startswith(("host", "port", "title")):
            assert "#" in line, line
    shipped = sorted(
        p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*") if p.is_file()
    )
    made = sorted(
        p.relative_to(folder / "templates") for p in (folder / "templates").rglob("*") if p.is_file()
    )
    assert made == shipped
    members = (folder / "recipients.csv").read_bytes()
    assert members.startswith(b"\xef\xbb\xbfNavn;E-mail;") and members.count(b"\r\n") == 2
    out = check_passes(folder)
    assert "members: 1 distinct" in out
    assert f"{auth} as rum@koege.example at {host}:587" in out


def test_next_it_points_to_the_desk_and_keeps_the_terminal_way(tmp_path: Path) -> None:
    folder = tmp_path / "Brugernes Rum"
    code, out = run(
        "init", str(folder), "--name", "Net", "--email", "net@faxe.example", "--provider", "gmail"
    )
    assert code == 0, out
    steps = out.split(f'next, in that folder (cd "{folder}"):\n', 1)[1].splitlines()
    assert steps[:2] == [
        "  1. keep the password in this computer's keyring: mailer password",
        "  2. mailer desk: it opens in your browser; upload your member list (the file saved from Excel) "
        "under Members, add the meeting under Meetings, then preview and send there",
    ]
    assert steps[2:] == [
        "or in the terminal: put your members in recipients.csv (or save your Excel list here and name it "
        "in config.toml), add your meeting at the end of config.toml, then mailer check --signin and "
        "mailer preview invitation --meeting ID",
    ]


def test_nothing_is_overwritten_and_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "recipients.csv").write_text("Navn;E-mail\nMin Egen;egen@faxe.example\n", encoding="utf-8")
    (tmp_path / "templates" / "invitation").mkdir(parents=True)
    (tmp_path / "templates" / "invitation" / "template.toml").write_text('calendar = "request"\n')
    code, out = run(
        "init", str(tmp_path), "--name", "Net", "--email", "net@faxe.example", "--provider", "gmail"
    )
    assert code == 0, out
    assert (tmp_path / "recipients.csv").read_text(encoding="utf-8").startswith("Navn;E-mail\nMin Egen")
    assert (tmp_path / "templates" / "invitation" / "template.toml").read_text() == 'calendar = "request"\n'
    assert "already there, kept as they are: recipients.csv, templates/ (1 file)" in out
    assert "never overwrites a file: for a new one, move the old one away first" in out
    assert (tmp_path / "templates" / "invitation" / "da" / "body.txt").exists()  # what was missing is made

    config = (tmp_path / "config.toml").read_bytes()
    code, out = run("init", str(tmp_path))  # no flags, no terminal: nothing to ask, config.toml is there
    assert code == 0, out
    assert (tmp_path / "config.toml").read_bytes() == config
    assert "already there, kept as they are: config.toml, recipients.csv, templates/" in out
    assert "made in" not in out


def test_without_a_terminal_a_missing_answer_names_its_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("init", str(tmp_path), "--name", "Net")
    assert code == 2
    assert "no terminal to ask on: give --email" in capsys.readouterr().err
    assert not (tmp_path / "config.toml").exists()

    code, _ = run("init", str(tmp_path), "--name", "Net", "--email", "net@", "--provider", "gmail")
    assert code == 2
    assert "--email 'net@': is not an e-mail address" in capsys.readouterr().err
    code, _ = run("init", str(tmp_path), "--name", "Net", "--email", "n@faxe.example", "--provider", "yahoo")
    assert code == 2
    assert "one of microsoft365, gmail, other" in capsys.readouterr().err


class Terminal:
    """`mailer init` run in a pseudo-terminal, as a person at a keyboard would run it."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.controller, follower = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailer", *args],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            cwd=cwd,
            env={**(os.environ if env is None else env), "PYTHONIOENCODING": "utf-8"},
        )
        os.close(follower)
        self.screen = ""

    def wait_for(self, text: str) -> None:
        """Read the screen until `text` is on it (a prompt), so typing never runs ahead."""
        while text not in self.screen:
            ready, _, _ = select.select([self.controller], [], [], 30)
            assert ready, f"waited for {text!r}; the screen says:\n{self.screen}"
            self.screen += os.read(self.controller, 4096).decode("utf-8", "replace")

    def type(self, line: str) -> None:
        os.write(self.controller, (line + "\n").encode("utf-8"))

    def finish(self) -> int:
        try:
            while True:
                chunk = os.read(self.controller, 4096)
                if not chunk:
                    break
                self.screen += chunk.decode("utf-8", "replace")
        except OSError:  # the other side closed: everything has been read
            pass
        os.close(self.controller)
        return self.process.wait(timeout=30)


def test_answers_typed_at_a_terminal(tmp_path: Path) -> None:
    term = Terminal("init", "odsherred", cwd=tmp_path)
    term.wait_for("The network's name")
    term.type("Brugernes Rum – Sjælland")
    term.wait_for("The address you send from")
    term.type("koordinator@")  # a mistake: asked again
    term.wait_for("is not an e-mail address")
    term.wait_for("The address you send from")
    term.type("koordinator@odsherred.example")
    term.wait_for("3. another mail server")
    term.wait_for("Choose 1, 2 or 3 [1]")  # Microsoft 365 is the likely one
    term.type("3")
    term.wait_for("The mail server's name (ask IT) [smtp.odsherred.example]")
    term.type("")  # the suggestion
    assert term.finish() == 0, term.screen
    assert "made in odsherred: config.toml" in term.screen
    config = tomllib.loads((tmp_path / "odsherred" / "config.toml").read_text(encoding="utf-8"))
    assert config["sender"]["name"] == "Brugernes Rum – Sjælland"
    assert config["smtp"]["host"] == "smtp.odsherred.example" and config["smtp"]["auth"] == "password"
    check_passes(tmp_path / "odsherred")


def test_an_installed_wheel_makes_the_same_folder(tmp_path: Path) -> None:
    """Built as pipx or uv would install it: the templates come from inside the package."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("mailer", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("mailer-*.whl")
    installed = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    assert (installed / "mailer" / "starter_templates" / "invitation" / "da" / "body.txt").is_file()
    assert not (installed / "templates").exists()  # nothing outside the package

    folder = tmp_path / "work"
    script = (
        "import mailer, sys\n"
        "from mailer.cli import main\n"
        "from mailer.starter import shipped_templates\n"
        "print(shipped_templates())\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "init",
            str(folder),
            "--name",
            "Net",
            "--email",
            "n@faxe.example",
            "--provider",
            "gmail",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[0] == str(installed / "mailer" / "starter_templates")
    assert (folder / "templates" / "reminder" / "template.toml").is_file()
    check_passes(folder)


def test_every_subpackage_is_in_the_wheel() -> None:
    """pyproject.toml names the packages (the templates are mapped in from templates/): a new
    folder of modules must be named there too, or an installed mailer would be without it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "mailer").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
