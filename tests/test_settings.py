"""INVITE_* settings and the workspace's signing key, read from a real folder."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from rsvp.errors import ConfigError
from rsvp.settings import SECRET_FILE, load_settings
from rsvp.tokens import ANSWER, LinkSigner

OLD_KEY = "old-secret-key-0123456789abcdef"
NEW_KEY = "new-secret-key-fedcba9876543210"


def settings_error(folder: Path, environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(folder, environ)
    return caught.value


def test_the_secret_key_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    first = load_settings(tmp_path, {})
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [key] = first.secret_keys
    assert len(key) >= 32
    assert path.read_text(encoding="ascii") == key + "\n"
    assert load_settings(tmp_path, {}).secret_keys == (key,)
    assert load_settings(tmp_path, {}).secret_keys == first.secret_keys


def first_use_at_once(folder: Path, users: int) -> tuple[list[tuple[str, ...]], list[str]]:
    """Let `users` threads load the settings of `folder` at the same moment."""
    barrier = threading.Barrier(users, timeout=30)
    keys: list[tuple[str, ...]] = []
    errors: list[str] = []

    def start() -> None:
        try:
            barrier.wait()
            keys.append(load_settings(folder, {}).secret_keys)
        except Exception as error:  # noqa: BLE001 - collected and asserted by the caller
            errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=start) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return keys, errors


def test_a_workspace_used_for_the_first_time_by_several_at_once_gets_one_key(
        tmp_path: Path) -> None:
    """`invite serve` and `invite send` may start together on a new workspace: all of
    them must end up with the same key, and none may see a half-written file."""
    for round_ in range(20):
        folder = tmp_path / f"ws{round_}"
        folder.mkdir()
        keys, errors = first_use_at_once(folder, 8)
        assert errors == []
        assert len(keys) == 8
        assert set(keys) == {((folder / SECRET_FILE).read_text(encoding="ascii").strip(),)}


def test_a_short_key_in_the_secret_file_is_blamed_on_that_file(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text("short\n", encoding="ascii")
    error = settings_error(tmp_path, {})
    assert str(path) in error.message
    assert "INVITE_SECRET_KEY" not in error.message


def test_a_missing_workspace_is_an_error_not_a_new_folder(tmp_path: Path) -> None:
    error = settings_error(tmp_path / "nowhere", {})
    assert error.message == f"workspace {tmp_path / 'nowhere'} does not exist"
    assert error.hint == "Run `invite init DIR` first, or pass -w DIR."
    assert not (tmp_path / "nowhere").exists()


def test_comma_separated_keys_rotate(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"INVITE_SECRET_KEY": f" {OLD_KEY} , {NEW_KEY} "})
    assert settings.secret_keys == (OLD_KEY, NEW_KEY)
    assert not (tmp_path / SECRET_FILE).exists()
    signer = LinkSigner(settings.secret_keys)
    old_link = LinkSigner((OLD_KEY,)).sign(ANSWER, 7, "event", 1)
    assert signer.read(ANSWER, old_link).recipient_id == 7
    new_link = signer.sign(ANSWER, 8, "event", 1)
    assert LinkSigner((NEW_KEY,)).read(ANSWER, new_link).recipient_id == 8


@pytest.mark.parametrize("keys", ["too-short", f"{OLD_KEY},too-short"])
def test_a_short_key_is_refused(tmp_path: Path, keys: str) -> None:
    error = settings_error(tmp_path, {"INVITE_SECRET_KEY": keys})
    assert error.message == "INVITE_SECRET_KEY holds a key shorter than 16 characters"
    assert error.hint == ("Use a long random key, e.g. from "
                          "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`.")


def test_an_unknown_tls_mode_is_refused(tmp_path: Path) -> None:
    error = settings_error(tmp_path, {"INVITE_SECRET_KEY": OLD_KEY, "INVITE_SMTP_TLS": "ssl"})
    assert error.message == "INVITE_SMTP_TLS is 'ssl'; use one of auto, none, starttls, tls"


@pytest.mark.parametrize(("tls", "port"), [
    ("", 25), ("auto", 25), ("none", 25), ("starttls", 587), ("STARTTLS", 587), ("tls", 465)])
def test_the_port_follows_the_tls_mode(tmp_path: Path, tls: str, port: int) -> None:
    environ = {"INVITE_SECRET_KEY": OLD_KEY, "INVITE_SMTP_HOST": "relay.example.org"}
    if tls:
        environ["INVITE_SMTP_TLS"] = tls
    settings = load_settings(tmp_path, environ)
    assert settings.smtp_port == port
    assert settings.relay == f"relay.example.org:{port}"


def test_an_explicit_port_wins(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"INVITE_SECRET_KEY": OLD_KEY, "INVITE_SMTP_TLS": "tls",
                                        "INVITE_SMTP_PORT": "2465"})
    assert (settings.smtp_tls, settings.smtp_port) == ("tls", 2465)


def test_a_port_that_is_no_number_is_refused(tmp_path: Path) -> None:
    error = settings_error(tmp_path, {"INVITE_SECRET_KEY": OLD_KEY, "INVITE_SMTP_PORT": "abc"})
    assert error.message == "INVITE_SMTP_PORT is 'abc', not a port number"


def test_a_base_url_without_scheme_is_refused(tmp_path: Path) -> None:
    error = settings_error(tmp_path, {"INVITE_SECRET_KEY": OLD_KEY,
                                      "INVITE_BASE_URL": "rsvp.example.org"})
    assert error.message == (
        "INVITE_BASE_URL is 'rsvp.example.org'; it must start with https:// (or http://)")


@pytest.mark.parametrize(("given", "used"), [
    ("https://rsvp.example.org/", "https://rsvp.example.org"),
    ("https://example.org/event/ ", "https://example.org/event"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
])
def test_the_base_url_loses_its_trailing_slash(tmp_path: Path, given: str, used: str) -> None:
    settings = load_settings(tmp_path, {"INVITE_SECRET_KEY": OLD_KEY, "INVITE_BASE_URL": given})
    assert settings.base_url == used


def test_defaults_without_any_variable(tmp_path: Path) -> None:
    """STARTTLS whenever offered; links to this machine, marked as not chosen."""
    settings = load_settings(tmp_path, {"INVITE_SECRET_KEY": OLD_KEY})
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls, settings.smtp_user,
            settings.smtp_password, settings.smtp_ca_file, settings.base_url,
            settings.base_url_given) == (
        "localhost", 25, "auto", "", "", None, "http://127.0.0.1:8000", False)
    assert settings.event_file == tmp_path / "event.toml"
    assert settings.database == tmp_path / "invite.db"


def test_the_password_and_keys_never_show_in_repr(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {
        "INVITE_SECRET_KEY": OLD_KEY, "INVITE_SMTP_USER": "office",
        "INVITE_SMTP_PASSWORD": "pa55-w0rd-not-for-logs"})
    assert settings.smtp_password == "pa55-w0rd-not-for-logs"
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert "pa55-w0rd-not-for-logs" not in shown
        assert OLD_KEY not in shown
        assert "office" in shown


def test_links_signed_before_the_faster_hmac_still_open() -> None:
    """Links made with itsdangerous' defaults (the first versions) verify unchanged."""
    from itsdangerous import URLSafeTimedSerializer
    old_style = URLSafeTimedSerializer([NEW_KEY], salt=ANSWER).dumps([7, "event-1", 2])
    signer = LinkSigner((NEW_KEY,))
    assert signer.sign(ANSWER, 7, "event-1", 2).split(".")[0] == str(old_style).split(".")[0]
    claim = signer.read(ANSWER, str(old_style))
    assert (claim.recipient_id, claim.event_id, claim.version) == (7, "event-1", 2)
