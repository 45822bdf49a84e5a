"""What a relay's day leaves for the next run of the same UTC day: a provider's "quota
used up" is remembered in relay_days, so no later run spends a refused submission; a
deferred mail is not blamed on a relay's cap."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.jobs import utc_today
from mailer.delivery.relay_days import RelayDays
from rsvp.store import Store
from tests.conftest import person
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
