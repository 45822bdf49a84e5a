"""CPU per mail of DKIM signing alone (#9), on real composed invitations, in-process.

Composes N invitations of a prepared workspace (languages mixed, 8bit bodies) and signs
them with each key type: dkimpy's `sign` (what #9 first used), our signer in the same
process (mailer.delivery.dkim_sign), the same between one compose and the next (as in a
run, where composing pushes the signer out of the CPU caches: composing plus signing,
less composing alone). Also prints the
floor of one signature from `openssl speed` where the binary is present. The figures are
the best of `--repeat` passes, so the noise of other processes counts least.

Run (about a minute):

    .venv/bin/python bench/dkim_sign_cost.py [--count 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from workspace import bench_env, check_quiet, make_workspace, ready_languages, remove_workspace

from mailer.content.composer import Composer
from mailer.delivery.dkim import DkimKey, new_key
from mailer.delivery.dkim_sign import SIGNED_HEADERS, Signer
from mailer.delivery.outbox import Outbox
from mailer.people.workspace import Workspace, open_workspace
from rsvp.store import Recipient


def workspace_composer(count: int) -> tuple[Path, Workspace, Composer, list[Recipient]]:
    """A workspace of `count` people and a Composer building for a relay with 8BITMIME."""
    folder = make_workspace(count, ready_languages())
    os.environ.update(bench_env(25))
    ws = open_workspace(folder)
    composer = Composer(ws.settings, ws.event, ws.store)
    composer.builder.eight_bit = True
    return folder, ws, composer, list(Outbox(ws.store).would_queue("invitation"))


def composing_us(composer: Composer, people: list[Recipient],
                 sign: Callable[[bytes], bytes] | None) -> float:
    """CPU per mail of composing each invitation (and signing it right after)."""
    start = time.process_time()
    for person in people:
        data = composer.compose("invitation", person).data
        if sign is not None:
            sign(data)
    return (time.process_time() - start) / len(people) * 1e6


def best_us(repeat: int, sign: Callable[[bytes], bytes], messages: list[bytes]) -> float:
    """Least CPU time of `repeat` passes signing `messages`, in microseconds per message."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        for message in messages:
            sign(message)
        times.append(time.process_time() - start)
    return min(times) / len(messages) * 1e6


def dkimpy_signer(key: DkimKey) -> Callable[[bytes], bytes]:
    """dkimpy's sign, as #9 first called it (PKCS#1 PEM for RSA, base64 seed for Ed25519)."""
    import base64

    import dkim
    from cryptography.hazmat.primitives import serialization
    private = serialization.load_der_private_key(key.private, password=None)
    secret = (private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()) if key.kind == "rsa"
              else base64.b64encode(private.private_bytes(
                  serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                  serialization.NoEncryption())))

    def sign(message: bytes) -> bytes:
        return dkim.DKIM(message, linesep=b"\r\n").sign(
            b"bench", b"example.org", secret, signature_algorithm=key.algorithm,
            canonicalize=(b"relaxed", b"relaxed"), include_headers=list(SIGNED_HEADERS))
    return sign


def openssl_floor() -> str:
    if shutil.which("openssl") is None:
        return "openssl: not installed"
    output = subprocess.run(["openssl", "speed", "-seconds", "2", "rsa2048", "ed25519"],
                            capture_output=True, text=True, check=False).stdout
    found = [re.search(pattern + r"\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)", output)
             for pattern in (r"rsa 2048 bits", r"\(Ed25519\)")]
    costs = [f"{1e6 / float(match.group(1)):.0f} us" if match else "?" for match in found]
    return f"openssl speed, one signature: RSA 2048 {costs[0]}, Ed25519 {costs[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU per mail of DKIM signing")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(check_quiet(), flush=True)
    folder, ws, composer, people = workspace_composer(args.count)
    messages = [composer.compose("invitation", person).data for person in people]
    alone = min(composing_us(composer, people, None) for _ in range(args.repeat))
    size = sum(map(len, messages)) // len(messages)
    print(f"{len(messages)} invitations, {size} bytes on average; microseconds of CPU per mail")
    for kind in ("rsa", "ed25519"):
        key = new_key(kind)[1]
        ours = Signer(key, "bench", "example.org")
        old = dkimpy_signer(key)
        few = messages[:max(1, len(messages) // 10)]  # dkimpy's RSA takes 7 ms a mail
        dkimpy = best_us(1, old, few)
        inline = best_us(args.repeat, ours.sign, messages)
        between = min(composing_us(composer, people, ours.sign)
                      for _ in range(args.repeat)) - alone
        print(f"{kind:<8} dkimpy.sign {dkimpy:5.0f}   ours: alone {inline:4.0f}, between "
              f"composes {between:4.0f}")
    print(f"composing one invitation alone: {alone:.0f}")
    print(openssl_floor())
    ws.close()
    remove_workspace(folder)


if __name__ == "__main__":
    main()
