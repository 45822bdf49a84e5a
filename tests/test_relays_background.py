"""The background sender of `invite serve` with a relay's daily cap: it pauses when the
cap is used up and goes on after 00:00 UTC (#9)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mailer.cli.catcher import free_port, start_catcher
from mailer.delivery.background import BackgroundSender
from mailer.delivery.relay_notes import until_midnight
from rsvp.config import load_event
from rsvp.nominations import nominate
from rsvp.settings import load_settings
from rsvp.store import Store, open_store
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_KEY, make_workspace, person
from tests.relay import running_relay
from tests.test_relays_send import ThrottlingRelay


def test_a_capped_relay_pauses_the_rounds_until_the_next_utc_day(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, AUTOMATIC_NOMINATIONS)
    with running_relay() as (catcher, port):
        settings = load_settings(workspace, {
            "INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org",
            "INVITE_SMTP_URL": f"smtp+plain://127.0.0.1:{port}?per_day=1"})
        event = load_event(settings.event_file)
        store = open_store(settings.database)
        store.add_recipients([person("anna@example.org")])
        anna = store.find_recipient("anna@example.org").id
        for name, email in (("Jean Dupont", "jean@example.fr"), ("Marie Roux", "marie@example.fr")):
            nominate(store, event, anna, name, email, "", "company", "de")
        now, day = [1000.0], [date(2027, 3, 1)]
        evening = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)  # 30 min before 00:00 UTC
        background = BackgroundSender(settings, event, clock=lambda: now[0],
                                      today=lambda: day[0], now=lambda: evening)
        try:
            first = background.run_round()
            assert first.outcome == "sent" and first.sent == {"invitation": 1}
            assert len(catcher.snapshot()) == 1
            assert background.run_round().outcome == "waiting"
            now[0] += 1799.0  # not the 60 s back-off: the pause lasts until 00:00 UTC
            assert background.run_round().outcome == "waiting"
            now[0] += 2.0  # past 00:00 UTC on the server's clock ...
            day[0] += timedelta(days=1)  # ... and a new UTC day for the cap
            second = background.run_round()
            assert second.outcome == "sent" and second.sent == {"invitation": 1}
            assert sorted(m.recipients[0] for m in catcher.snapshot()) == \
                ["jean@example.fr", "marie@example.fr"]
        finally:
            background.stop()
            store.close()


def nominee_round(tmp_path: Path, urls: str) -> tuple[BackgroundSender, list[float], Store]:
    """A background sender over `urls` with one person put forward, on a fake clock."""
    workspace = make_workspace(tmp_path, AUTOMATIC_NOMINATIONS)
    settings = load_settings(workspace, {
        "INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org",
        "INVITE_SMTP_URL": urls})
    event = load_event(settings.event_file)
    store = open_store(settings.database)
    store.add_recipients([person("anna@example.org")])
    anna = store.find_recipient("anna@example.org").id
    nominate(store, event, anna, "Jean Dupont", "jean@example.fr", "", "company", "de")
    now = [1000.0]
    background = BackgroundSender(settings, event, clock=lambda: now[0], retry_delay=0.001)
    return background, now, store


def test_a_relay_that_kept_asking_to_slow_down_is_left_in_peace_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    relay = ThrottlingRelay(1000, "452 4.5.3 Too many recipients this hour")
    controller = start_catcher(relay)
    background, now, store = nominee_round(
        tmp_path, f"smtp+plain://127.0.0.1:{controller.port}?connections=1")
    try:
        with caplog.at_level(logging.WARNING, logger="invite.sender"):
            first = background.run_round()
        assert first.report is not None and first.report.gave_up
        assert [r.getMessage() for r in caplog.records] == [
            (f"relay 127.0.0.1:{controller.port} kept asking to slow down; left alone for "
             "this round; next round in 60 s")]
        throttled = len(relay.throttled_at)
        assert background.run_round().outcome == "waiting"  # not a fresh lane 2 s later
        now[0] += 61.0
        background.run_round()
        assert len(relay.throttled_at) > throttled
    finally:
        background.stop()
        store.close()
        controller.stop()


def test_a_relay_out_of_reach_is_logged_while_the_others_send(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    nowhere = free_port()
    with running_relay() as (catcher, port):
        background, _, store = nominee_round(
            tmp_path, f"smtp+plain://127.0.0.1:{nowhere} smtp+plain://127.0.0.1:{port}")
        try:
            with caplog.at_level(logging.WARNING, logger="invite.sender"):
                done = background.run_round()
        finally:
            background.stop()
            store.close()
    assert done.sent == {"invitation": 1} and len(catcher.snapshot()) == 1
    assert done.report is not None and len(done.report.unreachable) == 1
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"cannot reach the mail relay 127.0.0.1:{nowhere}")
    assert warning.endswith("; the other relays carried on")


def test_until_midnight_counts_to_the_next_utc_day() -> None:
    assert until_midnight(datetime(2027, 3, 1, 23, 30, tzinfo=UTC)) == 1800.0
    assert until_midnight(datetime(2027, 3, 1, 0, 0, tzinfo=UTC)) == 86400.0
