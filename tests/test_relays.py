"""The relay list: INVITE_SMTP_URL and [[relays]] read into Relay values, with errors that
name the relay and never its password (#9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvp.config import load_event
from rsvp.errors import ConfigError
from rsvp.relays import Relay, parse_urls
from rsvp.settings import load_settings
from tests.conftest import TEST_KEY, make_workspace

SECRET = "s3cr3t-pa55"


def settings_for(workspace: Path, **env: str) -> list[Relay]:
    return list(load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY, **env}).relay_list())


def test_one_url_per_relay_with_its_limits_and_schemes() -> None:
    relays = parse_urls(
        "smtp+starttls://office@smtp.example.org:587?per_minute=30&per_day=500&connections=2,"
        " smtps://mx.example.net\n smtp://10.0.0.5 smtp+plain://relay.local:2525?per_minute=0.5",
        {"INVITE_SMTP_PASSWORD_1": SECRET})
    assert [(r.host, r.port, r.tls) for r in relays] == [
        ("smtp.example.org", 587, "starttls"), ("mx.example.net", 465, "tls"),
        ("10.0.0.5", 25, "auto"), ("relay.local", 2525, "none")]
    first = relays[0]
    assert (first.user, first.per_minute, first.per_day, first.connections) == \
        ("office", 30.0, 500, 2)
    assert first.password == SECRET  # from INVITE_SMTP_PASSWORD_1
    assert (relays[1].per_minute, relays[1].per_day, relays[1].connections) == (None, None, None)
    assert relays[3].per_minute == 0.5
    assert first.name == "office@smtp.example.org:587"
    assert relays[1].name == "mx.example.net:465"
    assert SECRET not in repr(first)


def test_password_from_the_url_then_the_numbered_variable() -> None:
    relays = parse_urls("smtps://a:p%40ss%2Fword@one.example.org smtps://b@two.example.org "
                        "smtps://three.example.org",
                        {"INVITE_SMTP_PASSWORD_2": "second", "INVITE_SMTP_PASSWORD": "common"})
    assert [r.password for r in relays] == ["p@ss/word", "second", ""]
    assert [r.source for r in relays] == [f"INVITE_SMTP_URL relay {n}" for n in (1, 2, 3)]


def test_the_common_password_goes_to_a_single_relay_only() -> None:
    [relay] = parse_urls("smtps://a@one.example.org", {"INVITE_SMTP_PASSWORD": "common"})
    assert relay.password == "common"
    with pytest.raises(ConfigError) as raised:  # a forgotten _2 must not send account 1's
        parse_urls("smtps://a@one.example.org smtps://b@two.example.org",
                   {"INVITE_SMTP_PASSWORD_1": "first", "INVITE_SMTP_PASSWORD": "first"})
    assert raised.value.message.startswith(
        "INVITE_SMTP_URL relay 2 (two.example.org) logs in as 'b' but has no password")
    assert raised.value.hint == ("Set INVITE_SMTP_PASSWORD_2 or put it in the URL "
                                 "(percent-encoded).")
    assert "first" not in raised.value.message + str(raised.value.hint)


@pytest.mark.parametrize(("urls", "message"), [
    ("smtp://ok.example.org, ftp://user:" + SECRET + "@files.example.org",
     ("INVITE_SMTP_URL relay 2 has the scheme 'ftp'; use one of smtp, smtp+starttls, smtps, "
     "smtp+plain")),
    ("smtps://user:" + SECRET + "@mx.example.org?per_day=0",
     ("INVITE_SMTP_URL relay 1 (mx.example.org): per_day is '0'; it must be a positive whole "
     "number")),
    ("smtps://mx.example.org?per_minute=fast",
     ("INVITE_SMTP_URL relay 1 (mx.example.org): per_minute is 'fast'; it must be a positive "
     "number")),
    ("smtps://mx.example.org?per_hour=10",
     ("INVITE_SMTP_URL relay 1 (mx.example.org): 'per_hour' is not a known limit; use "
     "per_minute, per_day, connections")),
    ("smtps://mx.example.org:99999", "INVITE_SMTP_URL relay 1 has a bad port or address"),
    ("smtps://mx.example.org:0",
     "INVITE_SMTP_URL relay 1 (mx.example.org): the port is 0; use a port from 1 to 65535"),
    ("smtps://:" + SECRET + "@:587", "INVITE_SMTP_URL relay 1 (no host) names no host"),
    ("smtps://mx.example.org/inbox",
     ("INVITE_SMTP_URL relay 1 (mx.example.org) has a path or fragment; a relay URL ends after "
     "the port and its ?limits")),
    ("smtps://a:x@mx.example.org smtps://a:y@mx.example.org:465",
     "INVITE_SMTP_URL lists the relay a@mx.example.org:465 twice"),
])
def test_a_bad_url_names_the_relay_and_the_bad_part_but_never_the_password(
        urls: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_urls(urls, {})
    assert raised.value.message == message
    assert SECRET not in str(raised.value) + str(raised.value.hint)


def test_the_old_variables_still_make_the_one_relay(workspace: Path) -> None:
    [relay] = settings_for(workspace, INVITE_SMTP_HOST="mail.example.org",
                           INVITE_SMTP_USER="office", INVITE_SMTP_PASSWORD=SECRET,
                           INVITE_SMTP_TLS="starttls")
    assert relay == Relay(host="mail.example.org", port=587, tls="starttls", user="office",
                          password=SECRET)


def test_the_url_wins_over_the_old_variables(workspace: Path) -> None:
    relays = settings_for(workspace, INVITE_SMTP_HOST="old.example.org",
                          INVITE_SMTP_URL="smtps://new.example.org?per_day=100")
    assert [(r.host, r.per_day) for r in relays] == [("new.example.org", 100)]


RELAYS_TOML = """
[[relays]]
host = "SMTP.Office365.com"
port = 587
tls = "starttls"
user = "office@example.org"
password_env = "OFFICE_SMTP_PASSWORD"
per_minute = 30
per_day = 10000
connections = 3

[[relays]]
host = "mail.example.net"
tls = "tls"
per_day = 500
"""


def test_relays_in_event_toml_take_their_password_from_the_named_variable(
        tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, RELAYS_TOML)
    first, second = settings_for(workspace, OFFICE_SMTP_PASSWORD=SECRET)
    assert first == Relay(host="smtp.office365.com", port=587, tls="starttls",
                          user="office@example.org", password=SECRET, per_minute=30,
                          per_day=10000, connections=3)  # the host in one spelling
    assert (first.source, second.source) == ("event.toml [[relays]] 1",
                                             "event.toml [[relays]] 2")
    assert (second.host, second.port, second.tls, second.per_day) == \
        ("mail.example.net", 465, "tls", 500)
    assert len(load_event(workspace / "event.toml").title) > 0  # the event reads the file too


@pytest.mark.parametrize(("toml", "env", "problem"), [
    ('[[relays]]\nhost = "a.example.org"\npassword = "' + SECRET + '"\n', {},
     ("'relays[1].password' must not be in the file: name the variable that holds it with "
     "password_env = \"INVITE_SMTP_PASSWORD_OFFICE\"")),
    ('[[relays]]\nhost = "a.example.org"\nuser = "x"\npassword_env = "NOT_SET_HERE"\n', {},
     "'relays[1].password_env' names NOT_SET_HERE, which is not set"),
    ('[[relays]]\nhost = "a.example.org"\nper_day = "500"\n', {},
     "'relays[1].per_day' must be a int, not '500'"),
    (('[[relays]]\nhost = "a.example.org"\n\n[[relays]]\nhost = "b.example.org"\n'
     'tls = "ssl"\n'), {}, "'relays[2].tls' is 'ssl'; use one of auto, none, starttls, tls"),
    ('[[relays]]\nhost = "a.example.org"\nport = 70000\n', {},
     "'relays[1].port' is 70000; use a port from 1 to 65535"),
    ('[[relays]]\nhost = "a.example.org"\nper_hour = 5\n', {},
     "'relays[1].per_hour' is not a known setting (a typo?)"),
    ('[[relays]]\nhost = "a.example.org"\nport = 0\n', {},
     "'relays[1].port' is 0; use a port from 1 to 65535"),
    ('[[relays]]\nhost = " "\n', {},
     "'relays[1].host' is empty; name the relay, e.g. \"smtp.example.org\""),
    (('[[relays]]\nhost = "a.example.org"\nuser = "office"\n\n[[relays]]\n'
      'host = "b.example.org"\n'), {"INVITE_SMTP_PASSWORD": SECRET},
     ("'relays[1].password_env' is missing: the relay logs in as 'office', so name the "
      "variable that holds its password")),
])
def test_a_bad_relay_table_names_its_place_and_key(tmp_path: Path, toml: str,
                                                   env: dict[str, str], problem: str) -> None:
    workspace = make_workspace(tmp_path, "\n" + toml)
    with pytest.raises(ConfigError) as raised:
        settings_for(workspace, **env)
    assert raised.value.message == f"{workspace / 'event.toml'}: {problem}"
    assert SECRET not in raised.value.message


def test_a_zero_cap_in_the_file_is_refused(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, '\n[[relays]]\nhost = "a.example.org"\nper_day = 0\n')
    with pytest.raises(ConfigError, match=r"'relays\[1\]' \(a.example.org\): per_day is 0; it "
                                          r"must be a positive whole number"):
        settings_for(workspace)


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_a_bounce_mailbox_port_out_of_range_is_refused(tmp_path: Path, port: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, {"INVITE_SECRET_KEY": TEST_KEY,
                                 "INVITE_BOUNCE_IMAP_HOST": "imap.example.org",
                                 "INVITE_BOUNCE_IMAP_USER": "bounces",
                                 "INVITE_BOUNCE_IMAP_PASSWORD": SECRET,
                                 "INVITE_BOUNCE_IMAP_PORT": port})
    assert raised.value.message == (f"INVITE_BOUNCE_IMAP_PORT is {int(port)}; use a port "
                                    "from 1 to 65535")
