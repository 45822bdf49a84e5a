"""A real Dovecot IMAP server of the tests' own, on free 127.0.0.1 ports, in a temporary folder.

Debian's `dovecot` binary runs in the foreground (`-F`) with a configuration written
here and nothing of the system's: its own base_dir, a passwd-file with one user, Maildir
storage in the folder, and a self-signed certificate made with `openssl`, for IMAP with
STARTTLS and for IMAP over TLS (993-style). It listens on 127.0.0.1 only. Run as root (as
in CI) the mail and login processes take Debian's `dovecot`/`dovenull` users, so the
folder is made outside pytest's private tmp and opened to them.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailer.cli.catcher import free_port
from tests.certs import make_certificate

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists()
                                     else None)
USER, PASSWORD = "bounces@example.org", "imap-test-password"
MISSING = "needs Debian's dovecot-imapd (`apt-get install dovecot-imapd`) and openssl"
AVAILABLE = DOVECOT is not None and shutil.which("openssl") is not None

CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@dataclass(frozen=True)
class ImapServer:
    """Where the test server listens, and the certificate a client must trust."""

    imap_port: int   # plain IMAP: a client must STARTTLS before it may log in
    imaps_port: int  # IMAP over TLS from the first byte
    cert: Path
    folder: Path

    def env(self, tls: str = "tls", **extra: str) -> dict[str, str]:
        """INVITE_BOUNCE_IMAP_* for this server, trusting its certificate."""
        port = self.imaps_port if tls == "tls" else self.imap_port
        return {"INVITE_BOUNCE_IMAP_HOST": "127.0.0.1", "INVITE_BOUNCE_IMAP_PORT": str(port),
                "INVITE_BOUNCE_IMAP_USER": USER, "INVITE_BOUNCE_IMAP_PASSWORD": PASSWORD,
                "INVITE_BOUNCE_IMAP_TLS": tls, "INVITE_BOUNCE_IMAP_CA_FILE": str(self.cert),
                **extra}

    @contextmanager
    def client(self, folder: str = "INBOX") -> Iterator[imaplib.IMAP4_SSL]:
        """A plain imaplib session as the test user, to put mail in and look at flags."""
        context = ssl.create_default_context(cafile=str(self.cert))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context)
        try:
            client.login(USER, PASSWORD)
            client.create(folder)  # "already exists" is fine: only the select must work
            typ, data = client.select(folder)
            assert typ == "OK", data
            yield client
        finally:
            client.logout()

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Put `messages` into `folder` as new (unread) mail."""
        with self.client(folder) as client:
            for raw in messages:
                typ, data = client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
                assert typ == "OK", data

    def flags(self, folder: str = "INBOX") -> list[str]:
        """The flags of each message in `folder`, in order."""
        with self.client(folder) as client:
            _, data = client.search(None, "ALL")
            if not data[0]:
                return []
            _, data = client.fetch("1:*", "(FLAGS)")
            return [item.decode() for item in data if isinstance(item, bytes)]


@contextmanager
def running_dovecot() -> Iterator[ImapServer]:
    """Start Dovecot in the foreground on two free loopback ports; stop it afterwards."""
    assert DOVECOT is not None, MISSING
    base = Path(tempfile.mkdtemp(prefix="invite-dovecot-"))
    try:
        yield from _run(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def running_or_skip() -> Iterator[ImapServer]:
    """For a fixture: a running server, or the test skipped saying what to install."""
    if not AVAILABLE:
        pytest.skip(MISSING)
    with running_dovecot() as running:
        yield running


def _run(base: Path) -> Iterator[ImapServer]:
    base.chmod(0o755)  # the mail and login processes run as other users when we are root
    cert, key = make_certificate(base, "imap")
    key.chmod(0o644)  # read by the master as root, or by ourselves; the folder is temporary
    (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="ascii")
    home = base / "home"
    home.mkdir()
    if os.geteuid() == 0:
        internal, login = pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
        os.chown(home, internal.pw_uid, internal.pw_gid)
    else:
        internal = login = pwd.getpwuid(os.geteuid())
    imap_port, imaps_port = free_port(), free_port()
    config = base / "dovecot.conf"
    config.write_text(CONFIG.format(
        base=base, cert=cert, key=key, uid=internal.pw_uid, gid=internal.pw_gid,
        internal=internal.pw_name, internal_group=_group(internal.pw_gid),
        login=login.pw_name, imap_port=imap_port, imaps_port=imaps_port), encoding="utf-8")
    process = subprocess.Popen([str(DOVECOT), "-c", str(config), "-F"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(imaps_port, process, base)
        yield ImapServer(imap_port, imaps_port, cert, base)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _group(gid: int) -> str:
    return grp.getgrgid(gid).gr_name


def _wait_for(port: int, process: subprocess.Popen[bytes], base: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            log = base / "dovecot.log"
            raise RuntimeError(f"dovecot stopped: {output}\n"
                               f"{log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on 127.0.0.1:{port} within 20 s")
