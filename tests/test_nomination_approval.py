"""Nominations cannot be used to send mail to anyone (#8): a nominee waits for the
organiser, cannot nominate in turn, holds no place before approval, and the event caps
nominations per hour. Real app (TestClient), real aiosmtpd relay, the real CLI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.background import BackgroundSender
from rsvp.config import EventConfig, load_event
from rsvp.i18n import catalogue
from rsvp.settings import Settings, load_settings
from rsvp.store import Store
from rsvp.web.app import create_app
from tests.conftest import make_workspace, person
from tests.relay import ScriptedRelay, running_relay
from tests.test_app import OPEN, form_url
from tests.test_background import environment

EN = catalogue("en")
YES = {"attendance": "yes", "parts": ["symposium"]}
SPAM = "Buy cheap pills at example now"


def nominee(email: str, name: str = SPAM) -> dict[str, str]:
    return {"nominee_name": name, "nominee_email": email, "nominee_organisation": "Spam Ltd",
            "nominee_role": "company"}


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


@pytest.fixture
def client(settings: Settings, event: EventConfig, store: Store) -> TestClient:
    return TestClient(create_app(settings, event, store, clock=lambda: OPEN))


@pytest.fixture
def anna(store: Store) -> str:
    store.add_recipients([person("anna@example.org", "en", first_name="Anna",
                                 last_name="Schmidt", organisation="Netz Nord",
                                 role="network_manager")])
    return "anna@example.org"


def put_forward(client: TestClient, settings: Settings, store: Store, by: str,
                email: str) -> str:
    page = client.post(form_url(settings, store, store.find_recipient(by), "en"),
                       data={**YES, **nominee(email)})
    assert page.status_code == 200
    return page.text


def background_round(workspace: Path, event: EventConfig, port: int) -> str:
    sender = BackgroundSender(load_settings(workspace, environment(port)), event)
    try:
        return sender.run_round().outcome
    finally:
        sender.stop()


def invite(workspace: Path, port: int, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "-w", str(workspace)], env=environment(port),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_nothing_goes_to_a_nominee_before_the_organiser_approves(
        client: TestClient, settings: Settings, store: Store, event: EventConfig,
        workspace: Path, anna: str, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    page = put_forward(client, settings, store, anna, "one@spam.example")
    assert EN.t("page.nominee_pending", name=SPAM, email="one@spam.example") in page
    put_forward(client, settings, store, anna, "two@spam.example")
    assert background_round(workspace, event, port) == "idle"
    invite(workspace, port, "send", "--yes")
    invite(workspace, port, "send", "--mailing", "reminder", "--yes")
    assert [list(m.recipients) for m in catcher.snapshot()] == [["anna@example.org"]]

    listed = invite(workspace, port, "nominations")
    assert "one@spam.example" in listed and "two@spam.example" in listed
    assert "anna@example.org" in listed and "Netz Nord" in listed
    assert "Nominations waiting for your decision: 2" in invite(workspace, port, "status")

    assert invite(workspace, port, "nominations", "--approve", "one@spam.example") \
        .startswith("one@spam.example: approved")
    assert invite(workspace, port, "nominations", "--reject", "two@spam.example") \
        .startswith("two@spam.example: rejected")
    assert background_round(workspace, event, port) == "sent"
    invite(workspace, port, "send", "--yes")
    assert catcher.to("two@spam.example") == []
    [mail] = catcher.to("one@spam.example")
    message = mail.parsed()
    # What the nominator typed is not in any header, and the mail names who put them forward.
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("", "one@spam.example")
    headers = "".join(f"{k}: {v}\n" for k, v in message.items())
    assert SPAM not in headers and "Spam Ltd" not in headers
    text = " ".join(message.get_body(("plain",)).get_content().split())
    assert "Anna Schmidt (Netz Nord) has put you forward" in text
    assert "No nominations wait" in invite(workspace, port, "nominations")


def test_a_nominee_cannot_put_forward_anyone_in_turn(
        client: TestClient, settings: Settings, store: Store, event: EventConfig,
        workspace: Path, anna: str, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    put_forward(client, settings, store, anna, "one@spam.example")
    invite(workspace, port, "nominations", "--approve", "one@spam.example")
    assert background_round(workspace, event, port) == "sent"
    [mail] = catcher.to("one@spam.example")
    link = re.search(r"/r/[A-Za-z0-9._-]+", mail.parsed().get_body(("plain",)).get_content())
    assert link is not None
    form = client.get(link.group(0))
    assert form.status_code == 200
    assert 'name="nominee_email"' not in form.text
    chained = client.post(link.group(0), data={**YES, **nominee("three@spam.example")})
    assert chained.status_code == 422
    assert "three@spam.example" not in [r.email for r in store.recipients()]
    api = client.put(link.group(0).replace("/r/", "/api/responses/"),
                     json={"attendance": "yes", "answers": {"parts": ["symposium"]},
                           "nominee": {"name": "X", "email": "four@spam.example",
                                       "organisation": "", "role": "company"}})
    assert api.status_code == 422
    assert background_round(workspace, event, port) == "idle"
    assert catcher.to("three@spam.example") == catcher.to("four@spam.example") == []


def test_depth_two_lets_an_approved_nominee_nominate(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, '\n[nominations]\ndepth = 2\n')
    settings = load_settings(workspace, environment(25))
    event = load_event(settings.event_file)
    from rsvp.store import open_store
    store = open_store(settings.database)
    try:
        store.add_recipients([person("anna@example.org", "en", role="network_manager")])
        client = TestClient(create_app(settings, event, store, clock=lambda: OPEN))
        put_forward(client, settings, store, "anna@example.org", "one@example.com")
        one = store.find_recipient("one@example.com")
        assert 'name="nominee_email"' in client.get(form_url(settings, store, one)).text
        put_forward(client, settings, store, "one@example.com", "two@example.com")
        two = store.find_recipient("two@example.com")
        assert 'name="nominee_email"' not in client.get(form_url(settings, store, two)).text
    finally:
        store.close()


def test_a_pending_nominee_takes_no_place(
        client: TestClient, settings: Settings, store: Store, event: EventConfig,
        workspace: Path, anna: str, relay: tuple[ScriptedRelay, int]) -> None:
    _, port = relay
    put_forward(client, settings, store, anna, "one@spam.example")
    result = CliRunner().invoke(app, ["admit", "one@spam.example", "-w", str(workspace)],
                                env=environment(port))
    assert result.exit_code == 1
    assert ("Error: one@spam.example was put forward on the answer page and the nomination "
            "waits for your approval") in result.output
    assert ("Hint: To give them a place, approve it first: invite nominations --approve "
            "one@spam.example") in result.output
    assert store.find_recipient("one@spam.example").admission is None


def test_the_event_caps_nominations_per_hour(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, '\n[nominations]\nper_hour = 2\n')
    settings = load_settings(workspace, environment(25))
    event = load_event(settings.event_file)
    from rsvp.store import open_store
    store = open_store(settings.database)
    now = [OPEN]
    try:
        store.add_recipients([person(f"p{i}@example.org", "en", role="network_manager")
                              for i in range(4)])
        client = TestClient(create_app(settings, event, store, clock=lambda: now[0]))
        put_forward(client, settings, store, "p0@example.org", "a@example.com")
        put_forward(client, settings, store, "p1@example.org", "b@example.com")
        refused = client.post(form_url(settings, store, store.find_recipient("p2@example.org"),
                                       "en"), data={**YES, **nominee("c@example.com")})
        assert refused.status_code == 422
        assert EN.t("errors.nominations_closed") in refused.text.replace("&#39;", "'")
        assert "c@example.com" not in [r.email for r in store.recipients()]
        form = client.get(form_url(settings, store, store.find_recipient("p3@example.org"), "en"))
        assert EN.t("page.nominations_closed") in form.text
        assert 'name="nominee_email"' not in form.text
        now[0] = OPEN + timedelta(hours=1, minutes=1)
        form = client.get(form_url(settings, store, store.find_recipient("p3@example.org"), "en"))
        assert 'name="nominee_email"' in form.text
    finally:
        store.close()


def test_a_bad_approval_setting_names_the_file_and_key(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, '\n[nominations]\napproval = "anyone"\n')
    from rsvp.errors import ConfigError
    with pytest.raises(ConfigError) as raised:
        load_event(workspace / "event.toml")
    assert raised.value.message == (f"{workspace / 'event.toml'}: 'nominations.approval' is "
                                    "'anyone'; use \"organiser\" or \"automatic\"")
