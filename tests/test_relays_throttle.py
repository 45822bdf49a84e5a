"""How a run reads a relay's "slow down", "mailbox full" and "quota used up" replies,
against real aiosmtpd relays on 127.0.0.1: every mail arrives exactly once, nothing is
lost, and a relay is blamed only for what is about the relay."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.cli.catcher import start_catcher
from mailer.content.composer import Composer
from mailer.delivery.jobs import Job
from mailer.delivery.lane import MAX_THROTTLES, is_quota, is_throttling
from mailer.delivery.outbox import Outbox
from mailer.delivery.relay_days import RelayDays
from mailer.delivery.sender import Sender, SendOptions, SendReport
from rsvp.config import load_event
from rsvp.settings import Settings, load_settings
from rsvp.store import Store
from tests.test_relays_send import (
    DAY,
    ThrottlingRelay,
    env,
    people,
    received,
    run,
    states,
    two_relays,
    url,
)

Relays = tuple[ThrottlingRelay, ThrottlingRelay]


@pytest.fixture
def pair() -> Iterator[Relays]:
    with two_relays() as both:
        yield both


def name(relay: ThrottlingRelay) -> str:
    return f"127.0.0.1:{relay.port}"  # type: ignore[attr-defined]


def attempts(store: Store) -> dict[str, int]:
    return {row["email"]: row["attempts"] for row in Outbox(store).export_rows()}


def test_one_slow_down_to_every_connection_at_once_is_one_episode(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    addresses = people(store, 20)
    first.throttle = 8  # the first DATA of each of the 8 connections: one "slow down"
    first.delay = 0.05
    report = run(workspace, store, url(first, "connections=8"), retry_delay=0.3)
    assert not report.gave_up
    assert received(first) == sorted(addresses)  # each exactly once
    assert report.sent == 20 and report.throttled == 8
    assert not report.deferred and not report.failed
    # The pause reached the workers that already held a mail: nothing arrived in it.
    assert min(first.arrivals) >= min(first.throttled_at) + 0.3 - 0.02
    assert set(attempts(store).values()) == {1}


@pytest.mark.parametrize(("code", "message", "throttling"), [
    (452, "4.2.2 Mailbox full", False),
    (452, "4.1.1 Too many recipients for this mailbox", False),
    (452, "Too many recipients", True),
    (452, "4.3.1 Insufficient system storage", True),
    (452, "4.7.0 Too many messages this hour", True),
    (451, "4.7.1 Greylisted", True),
])
def test_a_452_is_throttling_only_when_it_is_about_the_relay(
        code: int, message: str, throttling: bool) -> None:
    assert is_throttling(aiosmtplib.SMTPResponseException(code, message)) is throttling


@pytest.mark.parametrize(("code", "message", "quota"), [
    (550, "5.4.5 Daily user sending limit exceeded.", True),
    (554, ("5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed "
           "to process message"), True),
    (451, "4.7.1 Too many messages, slow down", False),
    (552, "5.2.2 Mailbox full", False),
    (552, "5.2.2 Mailbox quota exceeded", False),  # one mailbox, not our account
    (452, "4.2.2 The email account that you tried to reach is over quota", False),
    (451, "4.4.5 Mail system congestion", False),
])
def test_provider_quota_replies_are_recognised(code: int, message: str, quota: bool) -> None:
    assert is_quota(aiosmtplib.SMTPResponseException(code, message)) is quota


def test_a_full_mailbox_is_that_mails_failure_not_the_relays(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    people(store, 3)
    first.refuse_rcpt["person001@example.org"] = "452 4.2.2 Mailbox full"
    report = run(workspace, store, url(first, "connections=1"), retry_delay=0.01,
                 max_attempts=3)
    assert report.deferred == [("person001@example.org", "452 4.2.2 Mailbox full")]
    assert report.throttled == 0 and not report.gave_up and report.sent == 2
    assert attempts(store)["person001@example.org"] == 3  # --max-attempts holds
    assert states(store)["person001@example.org"] == "deferred"


def test_a_mail_that_every_relay_keeps_throttling_becomes_a_failure_of_its_own(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, second = pair
    people(store, 3)
    for relay in pair:
        relay.refuse_rcpt["person001@example.org"] = "452 4.5.3 Too many recipients"
    report = run(workspace, store, f"{url(first, 'connections=1')} {url(second, 'connections=1')}",
                 retry_delay=0.001, max_attempts=1)
    assert report.throttled == MAX_THROTTLES + 1  # not requeued for ever
    assert [address for address, _ in report.deferred] == ["person001@example.org"]
    assert report.deferred[0][1].endswith(f"(asked to send it later {MAX_THROTTLES + 1} times)")
    assert received(first, second) == ["person000@example.org", "person002@example.org"]


@pytest.mark.parametrize("reply", [
    "550 5.4.5 Daily user sending limit exceeded.",
    "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
])
def test_a_relay_whose_quota_is_used_up_is_capped_and_its_mail_goes_elsewhere(
        workspace: Path, store: Store, pair: Relays, reply: str) -> None:
    first, second = pair
    addresses = people(store, 6)
    first.throttle, first.reply = 1000, reply
    report = run(workspace, store, f"{url(first, 'connections=1')} {url(second, 'connections=1')}",
                 retry_delay=0.01)
    assert received(second) == sorted(addresses) and not first.snapshot()
    assert len(first.throttled_at) == 1  # asked once: capped for the day
    assert report.capped == [(name(first), None)]
    assert not report.failed and not report.deferred and report.throttled == 0
    assert set(attempts(store).values()) == {1}


def test_the_cli_leaves_the_mail_queued_when_the_only_relays_quota_is_used_up(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    people(store, 3)
    first.throttle, first.reply = 1000, "550 5.4.5 Daily user sending limit exceeded."
    result = CliRunner().invoke(app, ["send", "--yes", "-w", str(workspace)],
                                env=env(url(first)), catch_exceptions=False)
    assert result.exit_code == 75, result.output
    assert (f"3 invitations left; relay {name(first)} (its provider's daily quota) allows "
            "more from 00:00 UTC.") in " ".join(result.output.split())
    assert sorted(states(store).values()) == ["queued"] * 3  # never failed
    assert set(attempts(store).values()) == {0}


def test_a_mail_the_relay_refused_at_its_end_is_not_counted_for_the_day(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    people(store, 5)
    first.throttle = 3  # at the end of data: the relay did not take these
    report = run(workspace, store, url(first, "connections=1&per_day=100"), retry_delay=0.01,
                 today=lambda: DAY)
    assert report.sent == 5 and report.throttled == 3 and len(first.snapshot()) == 5
    assert RelayDays(store).sent(name(first), DAY) == 5


class HandOverWatch(ThrottlingRelay):
    """Notes, at each DATA, which mails it throttled (and has not taken since) still look
    handed over in the sender's database (a crash then would report them as unknown)."""

    def __init__(self, database: Path, throttle: int) -> None:
        super().__init__(throttle)
        self.database = database
        self.refused: list[str] = []
        self.waiting: set[str] = set()  # throttled, not taken since
        self.still_handed: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        current = envelope.rcpt_tos[0]
        with sqlite3.connect(self.database) as db:
            handed = {row[0] for row in db.execute(
                "SELECT r.email FROM outbox o JOIN recipients r ON r.id = o.recipient_id "
                "WHERE o.handed_at IS NOT NULL AND o.state = 'sending'")}
        self.still_handed += sorted((handed & self.waiting) - {current})
        if self.throttle > 0:
            self.refused.append(current)
            self.waiting.add(current)
        else:
            self.waiting.discard(current)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def watching(database: Path, throttle: int) -> Iterator[HandOverWatch]:
    relay = HandOverWatch(database, throttle)
    controller = start_catcher(relay)
    relay.port = controller.port  # type: ignore[attr-defined]
    try:
        yield relay
    finally:
        controller.stop()


def test_a_throttle_at_the_end_of_data_takes_the_hand_over_back(
        workspace: Path, store: Store, settings: Settings) -> None:
    addresses = people(store, 4)
    with watching(settings.database, throttle=2) as relay:
        report = run(workspace, store, url(relay, "connections=1"), retry_delay=0.05)
    assert len(relay.refused) == 2 and report.throttled == 2
    assert relay.still_handed == []  # a crash would have queued them again, not "unknown"
    assert received(relay) == sorted(addresses)


def test_a_requeue_cancelled_before_it_ran_gives_its_mail_back(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    addresses = people(store, 3)
    first.throttle = 1
    settings = load_settings(workspace, env(url(first, "connections=1")))
    outbox = Outbox(store)
    outbox.queue("invitation")
    sender = Sender(settings, outbox, Composer(settings, load_event(settings.event_file), store),
                    SendOptions(retry_delay=0.01))
    returns = sender._returns
    pass_on = returns.pass_on

    def then_stop(job: Job) -> None:  # the run stops before the requeue task takes a step
        pass_on(job)
        sender.stop()

    returns.pass_on = then_stop  # type: ignore[method-assign]
    report: SendReport = asyncio.run(sender.run())
    assert report.interrupted and report.throttled == 1
    assert "sending" not in states(store).values()  # nothing lost in a dropped task
    again = run(workspace, store, url(first))
    assert again.sent + report.sent == 3
    assert received(first) == sorted(addresses)  # each exactly once


@contextmanager
def greeting_421() -> Iterator[int]:
    """A relay on 127.0.0.1 that greets every connection with 421 and hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(b"421 4.7.0 Too many connections, try again later\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join(5)
        listener.close()


def test_a_relay_greeting_with_421_is_left_for_now_and_the_others_send(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    addresses = people(store, 4)
    with greeting_421() as busy:
        report = run(workspace, store, f"smtp+plain://127.0.0.1:{busy} {url(first)}")
    assert received(first) == sorted(addresses)
    assert len(report.unreachable) == 1
    assert report.unreachable[0].startswith(f"127.0.0.1:{busy} asks to try later: 421 4.7.0")
    assert report.unreachable[0].endswith("(Nothing was sent to it.)")  # no "run it again"


def test_the_only_relay_greeting_with_421_ends_the_run_with_exit_75(
        workspace: Path, store: Store) -> None:
    people(store, 2)
    with greeting_421() as busy:
        result = CliRunner().invoke(app, ["send", "--yes", "-w", str(workspace)],
                                    env=env(f"smtp+plain://127.0.0.1:{busy}"),
                                    catch_exceptions=False)
    assert result.exit_code == 75, result.output
    assert f"127.0.0.1:{busy} asks to try later: 421" in result.output
    assert "Hint: Nothing was sent to it. Run `invite send` again later." in result.output
    assert sorted(states(store).values()) == ["queued"] * 2


def test_every_relay_down_names_each_of_them(
        workspace: Path, store: Store) -> None:
    from mailer.cli.catcher import free_port
    from rsvp.errors import SendError
    people(store, 1)
    one, two = free_port(), free_port()
    with pytest.raises(SendError) as raised:
        run(workspace, store, f"smtp+plain://127.0.0.1:{one} smtp+plain://127.0.0.1:{two}")
    assert f"127.0.0.1:{one}" in raised.value.message
    assert f"127.0.0.1:{two}" in raised.value.message
    assert raised.value.hint and "INVITE_SMTP_URL relay 1" in raised.value.hint


def test_a_run_capped_before_midnight_and_ending_after_it_still_says_so(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    people(store, 3)
    settings = load_settings(workspace, env(url(first, "per_day=2&connections=1")))
    outbox = Outbox(store)
    outbox.queue("invitation")
    lanes: list[Any] = []

    def today() -> Any:  # 00:00 UTC passes as soon as the relay's cap is reached
        return DAY + timedelta(days=1) if lanes and lanes[0].capped else DAY

    sender = Sender(settings, outbox, Composer(settings, load_event(settings.event_file), store),
                    SendOptions(today=today))
    lanes.extend(sender._lanes)
    report = asyncio.run(sender.run())
    assert report.sent == 2
    assert report.capped == [(name(first), 2)]


def test_the_cli_says_which_relay_gave_up_while_the_others_sent_everything(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, second = pair
    people(store, 8)
    first.throttle, first.reply = 1000, "452 4.5.3 Too many recipients this hour"
    second.delay = 0.1  # slow enough that the first relay gives up before the end
    result = CliRunner().invoke(
        app, ["send", "--yes", "--retry-delay", "0.001", "-w", str(workspace)],
        env=env(f"{url(first, 'connections=1')} {url(second, 'connections=1')}"),
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(second.snapshot()) == 8 and not first.snapshot()
    assert (f"Warning: relay {name(first)} kept asking to slow down; the run went on without "
            "it") in " ".join(result.output.split())


def test_a_failure_outranks_a_held_back_exit(
        workspace: Path, store: Store, pair: Relays) -> None:
    first, _ = pair
    people(store, 4)
    first.refuse_rcpt["person000@example.org"] = "550 5.1.1 No such user"
    result = CliRunner().invoke(app, ["send", "--yes", "-w", str(workspace)],
                                env=env(url(first, "per_day=2&connections=1")),
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output  # not 75: something failed for good
    text = " ".join(result.output.split())
    assert "Failed: person000@example.org: 550 5.1.1 No such user" in text
    assert "1 invitation left;" in text and "(2 a day) allows more from 00:00 UTC" in text


def test_a_relay_slower_than_one_a_minute_is_never_sped_up_by_a_throttle(
        store: Store) -> None:
    from mailer.delivery.lane import Lane
    from rsvp.relays import Relay
    lane = Lane(Relay("relay.example.org", 587, per_minute=0.5), RelayDays(store),
                lambda: DAY, throttle_pause=1.0)
    assert lane.pacer.interval == 120.0
    lane.throttle()
    assert lane.pacer.interval == 120.0  # not the 60 s "slowest" of faster relays
    for _ in range(20):
        lane.taken()
    assert lane.pacer.interval == 120.0
