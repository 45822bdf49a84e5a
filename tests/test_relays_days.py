"""What a relay's day leaves for the next run of the same UTC day: a provider's "quota
used up" is remembered in relay_days, so no later run spends a refused submission; a
deferred mail is not blamed on a relay's cap."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.background import BackgroundSender
from mailer.delivery.jobs import utc_today
from mailer.delivery.relay_days import RelayDays
from rsvp.config import load_event
from rsvp.nominations import nominate
from rsvp.settings import load_settings
from rsvp.store import Store, open_store
from tests.conftest import AUTOMATIC_NOMINATIONS, make_workspace, person
from tests.test_relays_send import (
    ThrottlingRelay,
    env,
    people,
    received,
    relays,
    run,
    states,
    url,
)

__all__ = ["relays"]  # the fixture


def test_a_used_up_quota_is_remembered_for_the_rest_of_the_day(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    quota, other = relays
    quota_name = f"127.0.0.1:{quota.port}"  # type: ignore[attr-defined]
    quota.throttle, quota.reply = 1000, "550 5.4.5 Daily user sending limit exceeded."
    urls = f"{url(quota, 'connections=1')} {url(other, 'connections=1')}"
    addresses = people(store, 6)
    first = run(workspace, store, urls, retry_delay=0.01)
    assert len(quota.throttled_at) == 1 and first.capped == [(quota_name, None)]
    assert RelayDays(store).quota_spent(quota_name, utc_today())
    later = [f"later{n}@example.org" for n in range(3)]
    store.add_recipients([person(address, "en") for address in later])
    second = run(workspace, store, urls, retry_delay=0.01)
    assert len(quota.throttled_at) == 1  # not asked again the same day
    assert second.capped == [(quota_name, None)]
    assert received(other) == sorted(addresses + later) and not quota.snapshot()


def test_a_deferred_mail_is_not_blamed_on_a_relays_cap(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    capped, other = relays
    addresses = people(store, 3)
    for relay in relays:
        relay.defer_times[addresses[0]] = 5  # 451 at DATA, on every relay
    result = CliRunner().invoke(
        app, ["send", "--yes", "-w", str(workspace), "--retry-delay", "0.01",
              "--max-attempts", "2"],
        env=env(f"{url(capped, 'per_day=1')} {url(other)}"), catch_exceptions=False)
    assert result.exit_code == 0, result.output  # as for any deferral
    assert f"Deferred: {addresses[0]}: 451" in result.output
    assert "more from 00:00 UTC" not in result.output
    assert states(store)[addresses[0]] == "deferred"
    assert received(capped, other) == sorted(addresses[1:])


def test_two_background_rounds_the_same_day_ask_the_quota_relay_once(
        tmp_path: Path, relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    quota, other = relays
    quota.throttle, quota.reply = 1000, "550 5.4.5 Daily user sending limit exceeded."
    workspace = make_workspace(tmp_path, AUTOMATIC_NOMINATIONS)
    settings = load_settings(workspace, env(
        f"{url(quota, 'connections=1')} {url(other, 'connections=1')}"))
    event = load_event(settings.event_file)
    store = open_store(settings.database)

    def put_forward(first: int, count: int) -> None:
        for n in range(first, first + count):
            store.add_recipients([person(f"guest{n}@example.org")])
            host = store.find_recipient(f"guest{n}@example.org").id
            nominate(store, event, host, f"Nominee {n}", f"nominee{n}@example.fr", "",
                     "company", "de")

    background = BackgroundSender(settings, event, retry_delay=0.001)
    try:
        put_forward(0, 6)
        first = background.run_round()
        assert first.sent == {"invitation": 6} and len(quota.throttled_at) == 1
        put_forward(6, 3)
        second = background.run_round()
        assert second.sent == {"invitation": 3}
        assert len(quota.throttled_at) == 1  # the quota is remembered, not asked again
        assert not quota.snapshot() and len(other.snapshot()) == 9
    finally:
        background.stop()
        store.close()
