"""The developers' documentation stays true: every module of the package has its line in the
README, and nothing in the repository sends a reader to a file that is not in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mailer"


def test_every_module_has_its_line_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\|[^|\n]*\| `([\w/]+\.py)` \|", readme, re.MULTILINE))
    modules = {
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if not path.name.startswith("__")
    }
    assert modules - listed == set(), "modules missing from the README's table"
    assert listed - modules == set(), "the README lists modules that are gone"


def test_nothing_points_outside_the_repository() -> None:
    # The names are put together here so that this file does not match itself.
    outside = [name + ".md" for name in ("INTEROP", "MEASURED", "CONTEXT", "STYLE")] + ["../" + "shared"]
    files = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("benchmarks/*")]
    files += [*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        if path.is_file()
        for name in outside
        if name in path.read_text(encoding="utf-8")
    ]
    assert found == []
