"""A real bounce and a real delay warning: mailer sends through a real Postfix on loopback
(Debian's package, `.ci/run` installs it) with its own configuration and queue. Postfix's local
delivery finds no such user for one member and writes its own delivery status notification
(RFC 3464) back to the coordinator's Maildir; another member's server refuses connections, so
Postfix keeps trying and, after a while, writes a delay warning there too. `mailer inbox` reads
both from the Maildir: the first member is marked bouncing, the second is only warned about.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import MEETING, USER, Project, free_port

from mailer.journal import Journal

POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin:/bin")
ANNE = "anne.mette@roskilde.example"  # no such user on this Postfix
MADS = "mads.kohler@koege.example"  # koege.example's server refuses connections: delayed
DELIVERED = ("soren.aero", "maria.lohse")  # the others have a mailbox

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.roskilde.example
mydomain = roskilde.example
myorigin = roskilde.example
mydestination = roskilde.example, vordingborg.example
# koege.example's mail goes to a port nobody listens on: deferred, tried again every second, and
# a delay warning once it has waited a second.
transport_maps = inline:{{ koege.example=smtp:[127.0.0.1]:{closed} }}
delay_warning_time = 1s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 1s
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Every recipient is taken at RCPT; local delivery decides (and bounces the unknown one).
local_recipient_maps =
alias_maps = inline:{{ {aliases} }}
alias_database =
biff = no
syslog_name = mailer-test-{port}
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
"""

# Postfix's own master.cf, trimmed to the services a local delivery and a bounce need, none
# chrooted (a chroot would need copies of /etc files inside the queue).
MASTER_CF = """\
{port}    inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass
class Postfix:
    port: int
    coordinator: Path  # the Maildir the coordinator's mail (and the bounce) is delivered to
    members: Path  # the Maildir the other members' mail is delivered to
    log: Path

    def wait_for(self, maildir: Path, count: int, timeout: float = 30.0) -> list[Path]:
        """The messages in `maildir` once there are `count` (Postfix delivers in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            found = sorted((maildir / "new").glob("*")) if (maildir / "new").is_dir() else []
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"{maildir}: {len(found)} of {count}\n{self.log.read_text()}"
                return found
            time.sleep(0.05)


def _postfix(root: Path, *args: str) -> None:
    done = subprocess.run(
        [str(POSTFIX), "-c", str(root / "etc"), *args], capture_output=True, text=True, check=False
    )
    log = root / "postfix.log"
    assert done.returncode == 0, done.stdout + done.stderr + (log.read_text() if log.exists() else "")


@pytest.fixture
def postfix() -> Iterator[Postfix]:
    """Postfix with its own configuration, queue and log in a folder of its own."""
    if POSTFIX is None:
        pytest.skip("Postfix is not installed here (apt-get install postfix)")
    if os.geteuid() != 0:
        pytest.skip("the Postfix fixture starts the mail system as root, as Postfix requires")
    try:
        postfix_user, nobody = pwd.getpwnam("postfix"), pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("Postfix's user 'postfix' is missing (its package did not finish installing)")
    # Postfix's daemons run as 'postfix' and deliver as 'nobody': pytest's tmp_path is private to
    # its owner, so this lives in a folder they can reach.
    with tempfile.TemporaryDirectory(prefix="mailer-postfix-") as folder:
        root = Path(folder)
        os.chmod(root, 0o755)
        for name in ("etc", "queue", "data", "mail"):
            (root / name).mkdir()
        os.chown(root / "data", postfix_user.pw_uid, postfix_user.pw_gid)  # master.lock lives here
        os.chown(root / "mail", nobody.pw_uid, nobody.pw_gid)
        coordinator, members = root / "mail" / "coordinator", root / "mail" / "members"
        aliases = [f"{USER.partition('@')[0]} = {coordinator}/"]  # a trailing / means Maildir
        aliases += [f"{name} = {members}/" for name in DELIVERED]
        port = free_port()
        (root / "etc" / "main.cf").write_text(
            MAIN_CF.format(
                root=root, port=port, closed=free_port(), aliases=", ".join(f"{{ {a} }}" for a in aliases)
            ),
            encoding="utf-8",
        )
        (root / "etc" / "master.cf").write_text(MASTER_CF.format(port=port), encoding="utf-8")
        _postfix(root, "start")  # checks the configuration and creates the queue first
        pid = int((root / "queue" / "pid" / "master.pid").read_text().split()[0])
        try:
            yield Postfix(port, coordinator, members, root / "postfix.log")
        finally:
            _postfix(root, "stop")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)  # its children leave with the master; the folder goes after


def test_a_real_bounce_marks_the_member_and_a_real_delay_warning_does_not(
    project: Project, postfix: Postfix
) -> None:
    project.smtp = {"host": "127.0.0.1", "port": postfix.port, "security": "none", "backoff": 0.0}
    code, out = project.main("send", "invitation", "--meeting", MEETING["id"], "--yes")
    assert code == 0, out  # Postfix takes every message: the bounce and the warning come by mail
    assert len(postfix.wait_for(postfix.members, len(DELIVERED))) == len(DELIVERED)
    reports = postfix.wait_for(postfix.coordinator, 2)
    assert all(b"multipart/report" in r.read_bytes() for r in reports)  # Postfix's own, not ours

    code, out = project.main("inbox", str(postfix.coordinator))
    assert code == 0, out
    assert "bounces (the address no longer takes mail; later sends leave the member out): 1" in out
    assert "delay warnings (the server is still trying: not a bounce): 1" in out
    assert f"about invitation:{MEETING['id']}" in out
    with Journal(project.state, readonly=True) as journal:
        returns = {r.recipient: r for r in journal.returns()}
        sent = {row.recipient: row.message_id for row in journal.deliveries()}
    assert {key: r.kind for key, r in returns.items()} == {ANNE: "bounce", MADS: "delay"}
    assert returns[ANNE].message_id == sent[ANNE]  # matched by the Message-ID Postfix returned
    assert returns[MADS].message_id == sent[MADS]
    assert 'unknown user: "anne.mette"' in returns[ANNE].reply
    assert "Connection refused" in returns[MADS].reply

    code, out = project.main("status")
    assert f"bouncing: {ANNE}" in out and f"delay warning (the server is still trying): {MADS}" in out

    code, out = project.main("inbox", str(postfix.coordinator))  # read again: nothing twice
    assert "(2 read before: not counted again)" in out
    with Journal(project.state, readonly=True) as journal:
        assert len(journal.returns()) == 2
