"""Runs the desk started and that outlive the request: a send, with its progress and its outcome.

Each runs in a thread of its own (which opens its own journal); the page polls its progress.
Threads are not daemons: Ctrl-C lets a send that is under way finish and record what it sent.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from mailer.errors import MailerError
from mailer.run import SendReport


@dataclass
class Job:
    """One send from the desk, as its page shows it."""

    id: str
    campaign: str
    kind: str = ""  # invitation, reminder, cancellation, newsletter ('' for another template)
    title: str = ""  # the meeting's title (a newsletter's campaign)
    meeting_id: str | None = None
    again: str = ""  # the send page's query that chooses the same again
    total: int = 0
    sent: int = 0
    failed: int = 0
    state: str = "running"  # running | done | stopped
    error: str = ""
    problem: Exception | None = None  # what stopped it, for the page to tell in her words
    backup: str = ""
    today: str = ""  # when the day's limit holds some back: what happens to them, and when
    report: SendReport | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def progress(self, sent: int, failed: int, total: int) -> None:
        self.sent, self.failed, self.total = sent, failed, total

    def as_json(self) -> dict[str, object]:
        return {"state": self.state, "sent": self.sent, "failed": self.failed, "total": self.total}


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(
        self,
        campaign: str,
        work: Callable[[Job], SendReport],
        *,
        kind: str = "",
        title: str = "",
        meeting_id: str | None = None,
        again: str = "",
    ) -> Job:
        job = Job(
            secrets.token_urlsafe(12), campaign, kind=kind, title=title, meeting_id=meeting_id, again=again
        )

        def run() -> None:
            try:
                job.report = work(job)
                job.state = "done"
            except (MailerError, OSError) as err:
                job.error = str(err)
                job.problem = err
                job.state = "stopped"
            except BaseException as err:  # shown, then raised for the log
                job.error = f"unexpected error: {err!r}"
                job.state = "stopped"
                raise

        job.thread = threading.Thread(target=run, name=f"desk-send-{job.id}")
        with self._lock:
            self._jobs[job.id] = job
        job.thread.start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self) -> None:
        """Until every run the desk started has ended."""
        with self._lock:
            threads = [job.thread for job in self._jobs.values() if job.thread is not None]
        for thread in threads:
            thread.join()
