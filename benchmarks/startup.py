"""Start-up benchmark: how long a person waits for `mailer --help`, `mailer status`, `mailer check`
and `mailer preview invitation --meeting …` on the repository's sample, each beside
`python -c pass` (the interpreter's own start) on the same machine.

    python benchmarks/startup.py [--runs 11]

Each command runs as its own process (the installed `mailer` script beside this Python, else
`python -m mailer`) in a copy of the sample (config.toml, recipients.csv, templates/; the
journal is empty, so `status` reads it and says nothing was sent yet). Runs are interleaved
(every command once per round) so that a change in the machine's load falls on all of them
alike; the median wall time of each is printed with its target, and the load average before
and after. Where the time goes: `python -X importtime -m mailer COMMAND`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEETING = "2027-09-21-hvad-siger-brugerne"
# (what is shown, the arguments after `mailer`, the target in seconds on a 2-core machine)
COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("python -c pass", [], None),
    ("mailer --help", ["--help"], 0.25),
    ("mailer status", ["status"], 0.25),
    ("mailer check", ["check"], 0.6),
    (f"mailer preview invitation --meeting {MEETING}", ["preview", "invitation", "--meeting", MEETING], 0.6),
]


def mailer_command() -> list[str]:
    script = Path(sys.executable).parent / "mailer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mailer"]


def sample(folder: Path) -> Path:
    for name in ("config.toml", "recipients.csv"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "templates", folder / "templates")
    return folder


def wall_time(argv: list[str], folder: Path, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env=environment, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="runs of each command (default 11)")
    args = parser.parse_args()
    environment = {k: v for k, v in os.environ.items() if not k.upper().startswith("MAILER_")}
    mailer = mailer_command()
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name, _, _ in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="mailer-startup-") as temporary:
        folder = sample(Path(temporary))
        for round_ in range(args.runs + 1):  # round 0 untimed: files cached, outbox made
            for name, rest, _ in COMMANDS:
                argv = [*mailer, *rest] if rest else [sys.executable, "-c", "pass"]
                seconds = wall_time(argv, folder, environment)
                if round_:
                    times[name].append(seconds)
    load_after = os.getloadavg()
    print(f"{os.cpu_count()} cores; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"median of {args.runs} runs each, seconds (min-max in brackets)")
    width = max(len(name) for name, _, _ in COMMANDS)
    for name, _, target in COMMANDS:
        median = statistics.median(times[name])
        spread = f"({min(times[name]):.3f}-{max(times[name]):.3f})"
        verdict = "" if target is None else f"target {target:.2f}  {'met' if median <= target else 'NOT met'}"
        print(f"{name:<{width}}  {median:6.3f}  {spread:15}  {verdict}")


if __name__ == "__main__":
    main()
