"""Sending over several real aiosmtpd relays with per-minute and per-day limits, and relays
that ask to slow down (#9)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.cli.catcher import free_port, start_catcher
from mailer.content.composer import Composer
from mailer.delivery.lane import Lane, is_throttling
from mailer.delivery.outbox import Outbox
from mailer.delivery.relay_days import RelayDays
from mailer.delivery.sender import Sender, SendOptions, SendReport
from rsvp.config import load_event
from rsvp.relays import Relay
from rsvp.settings import load_settings
from rsvp.store import Store
from tests.conftest import TEST_KEY, person
from tests.relay import ScriptedRelay

DAY = date(2027, 3, 1)


class ThrottlingRelay(ScriptedRelay):
    """Answers the first `throttle` mails' DATA with `reply` (a "slow down"), then takes
    mails; remembers when each DATA came."""

    def __init__(self, throttle: int = 0, reply: str = "451 4.7.1 Too many messages, "
                 "slow down") -> None:
        super().__init__()
        self.throttle = throttle
        self.reply = reply
        self.throttled_at: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.throttle > 0:
            self.throttle -= 1
            self.throttled_at.append(asyncio.get_running_loop().time())
            if self.reply.startswith("421"):
                asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return self.reply
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def two_relays() -> Iterator[tuple[ThrottlingRelay, ThrottlingRelay]]:
    """Two real relays on 127.0.0.1 that take every mail until told otherwise."""
    first, second = ThrottlingRelay(), ThrottlingRelay()
    controllers = [start_catcher(first), start_catcher(second)]
    first.port, second.port = (c.port for c in controllers)  # type: ignore[attr-defined]
    try:
        yield first, second
    finally:
        for controller in controllers:
            controller.stop()


@pytest.fixture
def relays() -> Iterator[tuple[ThrottlingRelay, ThrottlingRelay]]:
    with two_relays() as both:
        yield both


def people(store: Store, count: int) -> list[str]:
    addresses = [f"person{n:03d}@example.org" for n in range(count)]
    store.add_recipients([person(a, "en") for a in addresses])
    return addresses


def env(urls: str) -> dict[str, str]:
    return {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org",
            "INVITE_SMTP_URL": urls}


def run(workspace: Path, store: Store, urls: str, **options: Any) -> SendReport:
    """One run of the invitation over the relays of `urls` (queued first)."""
    settings = load_settings(workspace, env(urls))
    outbox = Outbox(store)
    outbox.queue("invitation")
    sender = Sender(settings, outbox, Composer(settings, load_event(settings.event_file), store),
                    SendOptions(**options))
    report: SendReport = asyncio.run(sender.run())
    return report


def url(relay: ThrottlingRelay, query: str = "") -> str:
    return f"smtp+plain://127.0.0.1:{relay.port}{'?' + query if query else ''}"  # type: ignore[attr-defined]


def received(*relays: ThrottlingRelay) -> list[str]:
    return sorted(m.recipients[0] for relay in relays for m in relay.snapshot())


def states(store: Store) -> dict[str, str]:
    return {row["email"]: row["state"] for row in Outbox(store).export_rows()}


def test_two_relays_get_their_caps_and_the_rest_waits_for_the_next_day(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, second = relays
    addresses = people(store, 12)
    urls = f"{url(first, 'per_day=3&connections=2')}, {url(second, 'per_day=5')}"
    today = DAY
    report = run(workspace, store, urls, today=lambda: today, concurrency=3)
    assert (len(first.snapshot()), len(second.snapshot())) == (3, 5)
    assert report.sent == 8 and not report.failed and not report.deferred
    assert sorted(report.capped) == sorted([(f"127.0.0.1:{first.port}", 3),  # type: ignore[attr-defined]
                                            (f"127.0.0.1:{second.port}", 5)])  # type: ignore[attr-defined]
    assert sorted(states(store).values()) == ["queued"] * 4 + ["sent"] * 8
    days = RelayDays(store)
    assert days.sent(f"127.0.0.1:{first.port}", DAY) == 3  # type: ignore[attr-defined]

    again = run(workspace, store, urls, today=lambda: today)  # the same day: nothing goes
    assert again.sent == 0 and len(again.capped) == 2
    assert len(received(first, second)) == 8

    today = DAY + timedelta(days=1)
    report = run(workspace, store, urls, today=lambda: today)
    assert report.sent == 4 and not report.capped
    assert received(first, second) == sorted(addresses)  # each exactly once
    assert len(first.snapshot()) <= 6 and len(second.snapshot()) <= 10
    assert set(states(store).values()) == {"sent"}


def test_the_cli_ends_a_capped_run_with_what_is_left_and_exit_75(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, _ = relays
    people(store, 3)
    result = CliRunner().invoke(app, ["send", "--yes", "-w", str(workspace)],
                                env=env(url(first, "per_day=2")), catch_exceptions=False)
    assert result.exit_code == 75, result.output
    assert (f"1 invitation left; relay 127.0.0.1:{first.port} (2 a day) allows more from "  # type: ignore[attr-defined]
            "00:00 UTC. They stay queued for the next `invite send`.") in result.output
    assert len(first.snapshot()) == 2
    assert sorted(states(store).values()) == ["queued", "sent", "sent"]


def test_a_relay_answering_451_4_7_1_is_slowed_down_and_every_mail_arrives_once(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, _ = relays
    addresses = people(store, 6)
    first.throttle = 3
    report = run(workspace, store, url(first, "connections=1"), retry_delay=0.1,
                 max_attempts=2)
    assert received(first) == sorted(addresses)
    assert report.throttled == 3 and report.retries == 0
    assert not report.deferred and not report.failed
    # Each pause doubles: 0.1, 0.2, 0.4 s between the throttled tries.
    gaps = [b - a for a, b in zip(first.throttled_at, first.throttled_at[1:], strict=False)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.18
    assert set(states(store).values()) == {"sent"}
    attempts = {row["email"]: row["attempts"] for row in Outbox(store).export_rows()}
    assert set(attempts.values()) == {1}  # a throttled try is not counted as an attempt


def test_other_relays_carry_on_while_one_says_421(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, second = relays
    addresses = people(store, 10)
    first.throttle, first.reply = 1000, "421 4.7.0 Too many connections, closing"
    report = run(workspace, store, f"{url(first, 'connections=1')} {url(second)}",
                 retry_delay=0.05)
    assert received(second) == sorted(addresses) and not first.snapshot()
    assert report.sent == 10 and report.throttled >= 1
    assert not report.deferred and not report.failed


def test_the_per_minute_rate_of_a_relay_is_kept(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, _ = relays
    people(store, 5)
    report = run(workspace, store, url(first, "per_minute=600&connections=3"))
    assert report.sent == 5
    arrivals = sorted(first.arrivals)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.1 - 0.02, gaps  # 600 a minute: one mail every 0.1 s


def test_a_relay_that_cannot_be_reached_leaves_the_mail_to_the_others(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, _ = relays
    addresses = people(store, 4)
    nowhere = free_port()
    report = run(workspace, store, f"smtp+plain://127.0.0.1:{nowhere} {url(first)}")
    assert received(first) == sorted(addresses)
    assert len(report.unreachable) == 1
    assert report.unreachable[0].startswith(f"cannot reach the mail relay 127.0.0.1:{nowhere}")


def test_a_relay_that_keeps_throttling_is_left_alone_and_the_mail_stays_queued(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, _ = relays
    people(store, 3)
    first.throttle, first.reply = 1000, "452 4.5.3 Too many recipients this hour"
    report = run(workspace, store, url(first, "connections=1"), retry_delay=0.001)
    assert report.gave_up == [f"127.0.0.1:{first.port}"]  # type: ignore[attr-defined]
    assert report.throttled == 8 and report.sent == 0 and not report.deferred
    assert sorted(states(store).values()) == ["queued"] * 3
    assert not first.snapshot()


@pytest.mark.parametrize(("code", "message", "throttling"), [
    (421, "4.7.0 Too many connections", True),
    (451, "4.7.1 Please try again later (rate limit)", True),
    (452, "4.5.3 Too many recipients", True),
    (451, "4.3.0 Temporary local problem", False),
    (450, "4.2.1 Mailbox busy", False),
    (550, "5.7.1 Rate limited for good", False),
])
def test_which_replies_ask_to_slow_down(code: int, message: str, throttling: bool) -> None:
    assert is_throttling(aiosmtplib.SMTPResponseException(code, message)) is throttling


def test_a_throttled_lane_halves_its_rate_pauses_longer_each_time_and_recovers(
        store: Store) -> None:
    lane = Lane(Relay("relay.example.org", 587, per_minute=60), RelayDays(store),
                lambda: DAY, throttle_pause=1.0)
    assert lane.pacer.interval == 1.0
    assert (lane.throttle(), lane.pacer.interval) == (1.0, 2.0)
    assert (lane.throttle(), lane.pacer.interval) == (2.0, 4.0)  # the pause doubles too
    lane.taken()
    assert lane.streak == 0 and lane.pacer.interval == pytest.approx(4.0 / 1.1)
    for _ in range(30):
        lane.taken()
    assert lane.pacer.interval == 1.0  # back to its own rate, never faster
    assert lane.throttle() == 1.0  # a new streak starts with the first pause again


def test_a_test_send_goes_over_the_first_relay(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, second = relays
    people(store, 1)
    result = CliRunner().invoke(app, ["send", "--test-to", "me@example.org", "-w",
                                      str(workspace)],
                                env=env(f"{url(first)} {url(second)}"), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert received(first) == ["me@example.org"] and not second.snapshot()
