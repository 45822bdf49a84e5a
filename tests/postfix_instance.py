"""A private Postfix instance for tests: its own config and queue in a temporary folder,
listening on a free 127.0.0.1 port only, run in the foreground (`postfix start-fg`) and
stopped at the end. Mail for `partner.test` is accepted and delivered locally, where no
such user exists: Postfix then writes a real bounce to the envelope sender, which the
transport map sends to a catcher on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mailer.cli.catcher import free_port

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
SERVICES = """\
{listen} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


def missing() -> str:
    """Why the instance cannot run here ("" if it can): Postfix must be installed, and
    its master starts only as root (it drops to the postfix user itself)."""
    if not (Path(POSTFIX).is_file() and Path("/usr/lib/postfix/sbin/master").is_file()):
        return "postfix is not installed (apt-get install postfix; .ci/run installs it)"
    if os.geteuid() != 0:
        return "postfix's master starts only as root (CI runs as root)"
    return ""


@contextmanager
def running_postfix(sink_port: int) -> Iterator[tuple[int, Path]]:
    """Start the instance; yield its SMTP port and its log file; stop and remove it."""
    # Not pytest's tmp_path: Postfix's daemons drop to the postfix user and must reach
    # the queue, so the folder must not sit under a root-only parent.
    base = Path(tempfile.mkdtemp(prefix="invite-postfix-", dir="/tmp"))
    base.chmod(0o755)
    conf, queue, data, spool = (base / name for name in ("conf", "queue", "data", "spool"))
    for folder in (conf, queue, data, spool):
        folder.mkdir()
    spool.chmod(0o1777)  # local(8) writes as the user it delivers to
    shutil.chown(data, "postfix")
    port = free_port()
    log = base / "postfix.log"
    (conf / "transport").write_text(f"example.org smtp:[127.0.0.1]:{sink_port}\n",
                                    encoding="ascii")
    (conf / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
meta_directory = /etc/postfix
maillog_file = {log}
maillog_file_prefixes = {base}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.partner.test
mydomain = partner.test
myorigin = partner.test
mydestination = partner.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Accept any local part at SMTP time; local delivery then finds no such user and
# bounces, as a real relay does for a mailbox that was removed.
local_recipient_maps =
alias_maps =
alias_database =
# Mail for a user that does exist here stays in the instance's own folder.
mail_spool_directory = {spool}
transport_maps = texthash:{conf}/transport
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtputf8_enable = no
biff = no
delay_warning_time = 0
""", encoding="ascii")
    (conf / "master.cf").write_text(SERVICES.format(listen=f"127.0.0.1:{port}"),
                                    encoding="ascii")
    process = subprocess.Popen([POSTFIX, "-c", str(conf), "start-fg"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, log)
        yield port, log
    finally:
        subprocess.run([POSTFIX, "-c", str(conf), "stop"], capture_output=True, check=False,
                       timeout=30)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    import socket
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("postfix ended at start: "
                               f"{log.read_text() if log.exists() else 'no log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"postfix did not listen on 127.0.0.1:{port}")
