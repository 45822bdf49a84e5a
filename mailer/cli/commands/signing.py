"""`invite dkim new` and `invite dkim check`: the DKIM key pair and its DNS record (#9).

A group of its own (`invite dkim ...`), registered by mailer.cli.root; the signing
itself happens in mailer.delivery.dkim, where the sender has each message's bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, out
from mailer.delivery.dkim import DkimKey, record_name, record_strings
from rsvp.errors import ConfigError, InviteError

group = typer.Typer(help="Make a DKIM key and check the DKIM settings.", no_args_is_help=True)


def _from_address(workspace: Path) -> str | None:
    """The event's From address, or None outside a workspace."""
    if not (workspace / "event.toml").is_file():
        return None
    from mailer.content.compose import parse_sender
    from rsvp.config import load_event
    event = load_event(workspace / "event.toml")
    return parse_sender(event.sender, str(event.path))[1]


def _print_record(selector: str, domain: str, key: DkimKey) -> None:
    out.print("Publish this TXT record in DNS:", markup=False)
    out.print(f"  name:  {record_name(selector, domain)}", markup=False)
    out.print("  value: " + " ".join(f'"{part}"' for part in record_strings(key)),
              markup=False)


@group.command()
@handled
def new(
    selector: Annotated[str, typer.Option(help="The selector: the DNS name's first label.")],
    domain: Annotated[str | None, typer.Option(
        help="The signing domain (default: that of the event's From address).")] = None,
    key_type: Annotated[str, typer.Option(
        "--type", help="rsa (2048 bits, read by every receiver) or ed25519.")] = "rsa",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", dir_okay=False,
        help="Where to write the private key (default: dkim-SELECTOR.pem in the workspace).")
    ] = None,
    workspace: Folder = Path("."),
) -> None:
    """Make a DKIM key pair: the private key into a file only you can read, and the DNS
    record that publishes the public key.

    Example: invite dkim new --selector invite2027 --type ed25519
    """
    from mailer.delivery.dkim import check_names, new_key, write_private
    if key_type not in ("rsa", "ed25519"):
        raise InviteError(f"--type is {key_type!r}; use rsa or ed25519")
    from_address = _from_address(workspace)
    if domain is None and from_address is None:
        raise InviteError(f"{workspace} holds no event.toml, so the From domain is unknown",
                          hint="Pass --domain, or -w with the workspace.")
    chosen = (domain or (from_address or "").rsplit("@", 1)[-1]).lower().rstrip(".")
    check_names(selector, chosen)
    target = output or workspace / f"dkim-{selector}.pem"
    if target.exists():
        raise InviteError(f"{target} exists; it was not changed",
                          hint="Choose another file with -o, or another selector.")
    pem, key = new_key(key_type)
    try:
        write_private(target, pem)
    except OSError as error:
        raise InviteError(f"cannot write {target}: {error.strerror}") from None
    out.print(f"Wrote the private key ({key.describe()}) to {target} (mode 0600).",
              markup=False)
    _print_record(selector, chosen, key)
    out.print("Then set:", markup=False)
    out.print(f"  INVITE_DKIM_KEY_FILE={target.resolve()}", markup=False)
    out.print(f"  INVITE_DKIM_SELECTOR={selector}", markup=False)
    if from_address is None or chosen != from_address.rsplit("@", 1)[-1].lower():
        out.print(f"  INVITE_DKIM_DOMAIN={chosen}", markup=False)


@group.command()
@handled
def check(workspace: Folder = Path(".")) -> None:
    """Check the DKIM settings: the key, the selector and the domain, and show the DNS
    record to publish. Exits with 1 when signing could not work as set.

    Example: invite dkim check -w limoges-2027
    """
    from mailer.delivery.dkim import aligned, load_signer, signing_domain, verifies_with_dkimpy
    from rsvp.settings import load_settings
    settings = load_settings(workspace)
    from_address = _from_address(workspace)
    if from_address is None:
        raise InviteError(f"{workspace} holds no event.toml", hint="Pass -w WORKSPACE.")
    if settings.dkim_key_file is None and not settings.dkim_selector:
        out.print("DKIM signing is off: INVITE_DKIM_KEY_FILE is not set.", markup=False)
        out.print("Hint: invite dkim new --selector S makes a key and its DNS record.",
                  markup=False)
        return
    try:
        signer = load_signer(settings, from_address)
    except ConfigError as error:
        err.print(f"Error: {error.message}", markup=False)
        if error.hint:
            err.print(f"Hint: {error.hint}", markup=False)
        raise typer.Exit(1) from None
    assert signer is not None  # a key file is set
    domain = signing_domain(settings, from_address)
    out.print(f"Key: {settings.dkim_key_file} ({signer.key.describe()})", markup=False)
    out.print(f"Signing as d={domain}, s={settings.dkim_selector}, for From "
              f"{from_address}.", markup=False)
    if not aligned(domain, from_address.rsplit("@", 1)[-1]):
        err.print(f"Warning: the DKIM domain {domain} is not that of the From address "
                  f"{from_address} nor a parent of it: DMARC does not count this "
                  "signature as aligned.", markup=False)
        err.print(f"Hint: unset INVITE_DKIM_DOMAIN, or set it to "
                  f"{from_address.rsplit('@', 1)[-1]}.", markup=False)
    _print_record(settings.dkim_selector, domain, signer.key)
    if not verifies_with_dkimpy(signer):
        raise InviteError("a test message signed with this key does not verify with dkimpy",
                          hint="This is a bug in invite: please report it; send unsigned "
                               "(unset INVITE_DKIM_KEY_FILE) until it is fixed.")
    out.print("A test message signed with this key verifies (dkimpy) against this record.",
              markup=False)
    out.print("Every message of `invite send` will be signed.", markup=False)
