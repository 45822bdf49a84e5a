"""`invite send` against a real aiosmtpd relay: exactly once, retries, failures, safety."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.content.composer import eml_filename
from mailer.delivery.outbox import Outbox
from rsvp.store import NewRecipient, Store
from tests.conftest import BASE_URL, TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay

PEOPLE = [
    person("anna.schmidt@example.org", "de", salutation="Frau", title="Dr.", first_name="Anna",
           last_name="Schmidt", role="network_manager"),
    person("helene.lefevre@example.org", "fr", salutation="Mme", first_name="Hélène",
           last_name="Lefèvre", role="company"),
    person("john.smith@example.org", "en", salutation="Mr", first_name="John", last_name="Smith"),
]


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


def invite(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org"}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env, catch_exceptions=False)


def states(store: Store, mailing: str = "invitation") -> dict[str, str]:
    return {row["email"]: row["state"] for row in Outbox(store).export_rows()
            if row["mailing"] == mailing}


def test_each_person_gets_the_invitation_exactly_once(workspace: Path, store: Store,
                                                      relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    first = invite(workspace, port, "send", "--yes")
    assert first.exit_code == 0, first.output
    assert sorted(m.recipients[0] for m in catcher.snapshot()) == sorted(p.email for p in PEOPLE)
    second = invite(workspace, port, "send", "--yes")
    assert second.exit_code == 0
    assert "No invitations to send." in second.output
    store.add_recipients(PEOPLE)  # importing again changes nothing either
    third = invite(workspace, port, "send", "--yes")
    assert "No invitations to send." in third.output
    assert len(catcher.snapshot()) == 3
    assert set(states(store).values()) == {"sent"}


def test_mail_is_multipart_with_signed_links_and_unsubscribe_headers(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE[:1])
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    message = catcher.snapshot()[0].parsed()
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert str(message["To"]) == "Anna Schmidt <anna.schmidt@example.org>"
    assert message["From"].addresses[0].addr_spec == "office@example.org"
    assert str(message["Reply-To"]) == "anna@example.org"
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Date"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://rsvp.example.org/u/")
    text = message.get_body(("plain",)).get_content()
    assert "Sehr geehrte Frau Dr. Schmidt," in text
    assert "https://rsvp.example.org/r/" in text
    row = next(Outbox(store).export_rows())
    assert row["message_id"] == message["Message-ID"]


def test_a_451_is_retried_and_sent_once(workspace: Path, store: Store,
                                        relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.defer_times["john.smith@example.org"] = 1
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.05")
    assert result.exit_code == 0, result.output
    assert len(catcher.to("john.smith@example.org")) == 1
    assert catcher.data_attempts["john.smith@example.org"] == 2
    row = next(r for r in Outbox(store).export_rows() if r["email"] == "john.smith@example.org")
    assert (row["state"], row["attempts"]) == ("sent", 2)


def test_a_hang_up_before_the_message_is_retried_on_a_new_connection(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.hangup_at_rcpt["anna.schmidt@example.org"] = 1
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.05", "--concurrency", "1")
    assert result.exit_code == 0, result.output
    assert len(catcher.snapshot()) == 3
    assert len(catcher.to("anna.schmidt@example.org")) == 1
    assert set(states(store).values()) == {"sent"}


def test_a_421_after_the_message_is_retried_and_sent_once(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.closing_times["anna.schmidt@example.org"] = 1
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.05", "--concurrency", "1")
    assert result.exit_code == 0, result.output
    assert catcher.data_attempts["anna.schmidt@example.org"] == 2
    assert len(catcher.to("anna.schmidt@example.org")) == 1
    assert set(states(store).values()) == {"sent"}


def test_a_hang_up_after_the_whole_message_is_unknown_and_never_resent_blindly(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """The relay may have taken a mail whose confirmation never came: sending it
    again could deliver it twice, so it waits for the organiser's decision."""
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.drop_times["anna.schmidt@example.org"] = 1
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.05", "--concurrency", "1")
    assert result.exit_code == 1
    assert "Unknown: anna.schmidt@example.org: the connection was lost after the whole " \
           "message was sent" in result.output
    assert "--resend-unknown" in result.output
    assert catcher.data_attempts["anna.schmidt@example.org"] == 1
    assert states(store)["anna.schmidt@example.org"] == "sending"
    assert len(catcher.snapshot()) == 2  # the others went out on a new connection
    rerun = invite(workspace, port, "send", "--yes")
    assert "whether they arrived is unknown: anna.schmidt@example.org" in rerun.output
    assert catcher.data_attempts["anna.schmidt@example.org"] == 1
    resend = invite(workspace, port, "send", "--yes", "--resend-unknown")
    assert resend.exit_code == 0, resend.output
    assert len(catcher.to("anna.schmidt@example.org")) == 1
    assert set(states(store).values()) == {"sent"}


def test_a_550_fails_at_once_is_reported_and_never_retried(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.refuse_rcpt["helene.lefevre@example.org"] = "550 5.1.1 <helene.lefevre@example.org>: no such user"
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.05")
    assert result.exit_code == 1
    assert ("Failed: helene.lefevre@example.org: 550 5.1.1 <helene.lefevre@example.org>: "
            "no such user") in result.output
    assert states(store)["helene.lefevre@example.org"] == "failed"
    rerun = invite(workspace, port, "send", "--yes")
    assert "No invitations to send." in rerun.output
    assert catcher.data_attempts.get("helene.lefevre@example.org") is None
    assert len(catcher.snapshot()) == 2


def test_a_relay_that_keeps_deferring_leaves_the_mail_for_the_next_run(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE[:1])
    catcher.defer_times["anna.schmidt@example.org"] = 5
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.01", "--max-attempts", "2")
    assert result.exit_code == 0, result.output
    assert "Deferred: anna.schmidt@example.org: 451 4.3.0" in result.output
    assert "Hint: run `invite send` again later" in result.output
    assert states(store) == {"anna.schmidt@example.org": "deferred"}
    catcher.defer_times.clear()
    again = invite(workspace, port, "send", "--yes")
    assert again.exit_code == 0
    assert len(catcher.snapshot()) == 1
    assert states(store) == {"anna.schmidt@example.org": "sent"}


def test_an_unreachable_relay_is_a_clear_error_and_marks_nothing(
        workspace: Path, store: Store) -> None:
    from mailer.cli.catcher import free_port
    store.add_recipients(PEOPLE)
    port = free_port()
    result = invite(workspace, port, "send", "--yes")
    assert result.exit_code == 1
    assert f"Error: cannot reach the mail relay localhost:{port}" not in result.output
    assert f"Error: cannot reach the mail relay 127.0.0.1:{port}" in result.output
    assert "Hint: Check INVITE_SMTP_HOST, INVITE_SMTP_PORT and INVITE_SMTP_TLS." in result.output
    assert set(states(store).values()) == {"queued"}


def test_a_row_left_sending_by_a_crash_is_unknown_until_resend_unknown(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    outbox = Outbox(store)
    outbox.queue("invitation")
    crashed = next(outbox.pending("invitation"))
    # As a crash right after the end of the message went to the relay would leave it.
    outbox.claim([(crashed.id, "<crash@example.org>")])
    outbox.hand_over(crashed.id)
    result = invite(workspace, port, "send", "--yes")
    assert result.exit_code == 0
    assert (f"Warning: 1 invitation was being sent when an earlier run stopped; whether they "
            f"arrived is unknown: {crashed.recipient.email}") in result.output
    assert catcher.to(crashed.recipient.email) == []
    assert len(catcher.snapshot()) == 2
    resent = invite(workspace, port, "send", "--yes", "--resend-unknown")
    assert resent.exit_code == 0
    assert len(catcher.to(crashed.recipient.email)) == 1
    assert set(states(store).values()) == {"sent"}


def test_a_row_claimed_but_never_handed_over_is_quietly_sent_by_the_next_run(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """A crash before the end of the message went out: the relay cannot have taken it,
    so the next run sends it without a warning, its attempt not counted (issue #8)."""
    catcher, port = relay
    store.add_recipients(PEOPLE)
    outbox = Outbox(store)
    outbox.queue("invitation")
    crashed = next(outbox.pending("invitation"))
    outbox.claim([(crashed.id, "<crash@example.org>")])
    assert outbox.unknown() == []
    result = invite(workspace, port, "send", "--yes")
    assert result.exit_code == 0, result.output
    assert "unknown" not in result.output
    assert len(catcher.to(crashed.recipient.email)) == 1
    row = next(r for r in outbox.export_rows() if r["email"] == crashed.recipient.email)
    assert (row["state"], row["attempts"]) == ("sent", 1)


def test_a_template_error_stops_the_batch_before_anything_is_sent(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    override = workspace / "templates" / "mail" / "invitation.en.subject.j2"
    override.parent.mkdir(parents=True)
    override.write_text("Hello {{ recipient.extra.nickname }}", encoding="utf-8")
    result = invite(workspace, port, "send", "--yes")
    assert result.exit_code == 1
    assert ("Error: template mail/invitation.en.subject.j2 for john.smith@example.org: "
            "'dict object' has no attribute 'nickname'") in result.output
    assert catcher.snapshot() == []
    assert states(store) == {}


def test_header_injection_through_names_and_encoded_words_is_impossible(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients([
        person("victim@example.org", "en", first_name="=?UTF-8?Q?=0ABcc:_evil@example.net?=",
               last_name="Müller\r\nBcc: evil@example.net"),
    ])
    subject = workspace / "templates" / "mail" / "invitation.en.subject.j2"
    subject.parent.mkdir(parents=True)
    subject.write_text("Hi =?UTF-8?Q?=0D=0ABcc:_evil@example.net?= {{ recipient.last_name }}",
                       encoding="utf-8")
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    assert mail.recipients == ("victim@example.org",)
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\r\n"))
    message = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert message["Bcc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["victim@example.org"]
    assert "=?UTF-8?Q?=0ABcc:_evil@example.net?=" in message["To"].addresses[0].display_name
    assert str(message["Subject"]) == (
        "Hi =?UTF-8?Q?=0D=0ABcc:_evil@example.net?= Müller Bcc: evil@example.net")


def test_internationalised_domains_go_out_as_punycode(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients([NewRecipient("info@bücher.example", "info@xn--bcher-kva.example",
                                       {"language": "de", "last_name": "Buch"}, {})])
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    assert mail.recipients == ("info@xn--bcher-kva.example",)
    assert mail.parsed()["To"].addresses[0].addr_spec == "info@xn--bcher-kva.example"


def test_dry_run_writes_eml_files_and_marks_nothing(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    result = invite(workspace, port, "send", "--dry-run", str(tmp_path / "eml"))
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "eml").glob("*.eml"))
    assert [f.name for f in files] == ["00001-anna.schmidt@example.org.eml",
                                       "00002-helene.lefevre@example.org.eml",
                                       "00003-john.smith@example.org.eml"]
    parsed = email.message_from_bytes(files[1].read_bytes(), policy=email.policy.default)
    assert "Madame Lefèvre," in parsed.get_body(("plain",)).get_content()
    assert catcher.snapshot() == []
    assert states(store) == {}


def test_without_a_terminal_and_without_yes_nothing_is_sent(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    result = invite(workspace, port, "send")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: `invite send` needs --yes when it cannot ask (no terminal)",
        ("Hint: Add --yes to answer yes to: Send 3 invitations (roles: (no role) 1, company 1, "
         f"network_manager 1) via 127.0.0.1:{port} (STARTTLS if offered) with links to "
         "https://rsvp.example.org?"),
    ]
    assert catcher.snapshot() == []


def test_limit_sends_only_that_many_and_the_rest_later(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    assert invite(workspace, port, "send", "--yes", "--limit", "2").exit_code == 0
    assert len(catcher.snapshot()) == 2
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    assert sorted(m.recipients[0] for m in catcher.snapshot()) == sorted(p.email for p in PEOPLE)


def test_reminder_goes_only_to_silent_subscribed_people_once(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.refuse_rcpt["john.smith@example.org"] = "550 no such user"
    invite(workspace, port, "send", "--yes")
    anna = store.find_recipient("anna.schmidt@example.org")
    store.record_answer(anna.id, "no", {}, "web")
    store.add_recipients([person("late@example.org", "de", last_name="Spät")])
    result = invite(workspace, port, "send", "--yes", "--mailing", "reminder")
    assert result.exit_code == 0, result.output
    assert states(store, "reminder") == {"helene.lefevre@example.org": "sent"}
    again = invite(workspace, port, "send", "--yes", "--mailing", "reminder")
    assert "No reminders to send." in again.output
    reminder = catcher.to("helene.lefevre@example.org")[-1].parsed()
    assert "Madame Lefèvre," in reminder.get_body(("plain",)).get_content()


def test_unsubscribed_people_get_no_further_mail(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    outbox = Outbox(store)
    outbox.queue("invitation")
    store.unsubscribe(store.find_recipient("john.smith@example.org").id)
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    assert catcher.to("john.smith@example.org") == []
    assert states(store)["john.smith@example.org"] == "cancelled"


def test_a_slow_relay_is_fed_over_parallel_connections(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    catcher.delay = 0.3
    store.add_recipients([person(f"p{i}@example.org", "en", last_name=f"P{i}") for i in range(8)])
    result = invite(workspace, port, "send", "--yes", "--concurrency", "4")
    assert result.exit_code == 0, result.output
    assert len(catcher.snapshot()) == 8
    assert catcher.most_in_flight == 4


def test_rate_limit_spaces_the_mails(workspace: Path, store: Store,
                                     relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    result = invite(workspace, port, "send", "--yes", "--rate", "300")  # one each 0.2 s
    assert result.exit_code == 0, result.output
    assert len(catcher.snapshot()) == 3
    gaps = [later - earlier for earlier, later in zip(catcher.arrivals, catcher.arrivals[1:])]
    assert len(gaps) == 2
    assert min(gaps) >= 0.18, gaps  # each mail waited for its slot, whatever the pool size


def _encodings(mail: Any) -> list[str]:
    return [str(part["Content-Transfer-Encoding"]) for part in mail.parsed().iter_parts()]


def test_bodies_go_as_8bit_only_to_relays_that_offer_8bitmime(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE[:1])
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    assert _encodings(mail) == ["8bit", "8bit"]
    assert "BODY=8BITMIME" in catcher.mail_options[0]
    eight_bit_text = mail.parsed().get_body(("plain",)).get_content()

    catcher.offer_8bitmime = False
    store.add_recipients([person("anna.zwei@example.org", "de", salutation="Frau", title="Dr.",
                                 first_name="Anna", last_name="Schmidt")])
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    second = catcher.to("anna.zwei@example.org")[0]
    assert _encodings(second) == ["quoted-printable", "quoted-printable"]
    assert "BODY=8BITMIME" not in catcher.mail_options[-1]
    assert max(len(line) for line in second.data.split(b"\r\n")) <= 998
    assert not any(byte > 127 for byte in second.data)
    text = second.parsed().get_body(("plain",)).get_content()

    def masked(body: str) -> str:
        return re.sub(r"/[ru]/[A-Za-z0-9_.\-]+", "/LINK", body).replace("anna.zwei", "anna.schmidt")

    assert masked(text) == masked(eight_bit_text)


def test_a_line_too_long_for_8bit_goes_quoted_printable(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE[:1])
    override = workspace / "templates" / "mail" / "invitation.de.txt.j2"
    override.parent.mkdir(parents=True)
    override.write_text("Hallo {{ recipient.last_name }} " + "ä" * 1200 + "\n", encoding="utf-8")
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    assert _encodings(mail) == ["quoted-printable", "8bit"]
    text = mail.parsed().get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == "Hallo Schmidt " + "ä" * 1200 + "\n"


def _sender_for(workspace: Path, store: Store, port: int, **options: Any) -> Any:
    from mailer.content.composer import Composer
    from mailer.delivery.sender import Sender, SendOptions
    from rsvp.config import load_event
    from rsvp.settings import load_settings
    settings = load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST":
                                         "127.0.0.1", "INVITE_SMTP_PORT": str(port)})
    event = load_event(settings.event_file)
    outbox = Outbox(store)
    outbox.queue("invitation")
    return Sender(settings, outbox, Composer(settings, event, store),
                  SendOptions(**options))


def test_an_interrupted_run_returns_mails_it_never_handed_over_to_the_queue(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """Ctrl-C while workers wait for their slot: the rows they held are queued again,
    not left `sending` (which would make them look possibly sent)."""
    import asyncio
    catcher, port = relay
    store.add_recipients(PEOPLE)
    sender = _sender_for(workspace, store, port, rate_per_minute=6.0, concurrency=3)

    async def interrupt() -> None:
        task = asyncio.create_task(sender.run())
        while not catcher.snapshot():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the other workers now wait for their 10-second slot
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupt())
    assert len(catcher.snapshot()) == 1
    assert sorted(states(store).values()) == ["queued", "queued", "sent"]
    rerun = invite(workspace, port, "send", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert "unknown" not in rerun.output
    assert sorted(m.recipients[0] for m in catcher.snapshot()) == sorted(p.email for p in PEOPLE)


def test_an_address_that_cannot_go_in_a_header_stops_the_batch_before_sending(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    store.conn.execute("UPDATE recipients SET email_ascii = 'john smith@example.org' "
                       "WHERE email = 'john.smith@example.org'")
    result = invite(workspace, port, "send", "--yes")
    assert result.exit_code == 1
    assert ("cannot make the invitation for john.smith@example.org: 'john smith@example.org' "
            "cannot be used as a mail address") in result.output
    assert catcher.snapshot() == []
    assert states(store) == {}


def test_a_message_that_cannot_be_built_fails_alone_and_the_run_goes_on(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """Without the check pass (as in the background sender's rounds), a person whose
    message cannot be built fails with the reason; the others still go out."""
    import asyncio
    catcher, port = relay
    store.add_recipients(PEOPLE)
    store.conn.execute("UPDATE recipients SET email_ascii = 'john\rsmith@example.org' "
                       "WHERE email = 'john.smith@example.org'")
    sender = _sender_for(workspace, store, port, concurrency=1)
    report = asyncio.run(asyncio.wait_for(sender.run(), 20))
    assert report.sent == 2
    [(address, reply)] = report.failed
    assert address == "john\rsmith@example.org"
    assert "cannot be used as a mail address" in reply
    assert states(store)["john.smith@example.org"] == "failed"
    assert len(catcher.snapshot()) == 2


def test_a_reminder_queued_earlier_is_cancelled_once_the_person_has_answered(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients(PEOPLE)
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    first = invite(workspace, port, "send", "--yes", "--mailing", "reminder", "--limit", "1")
    assert first.exit_code == 0, first.output
    assert sorted(states(store, "reminder").values()) == ["queued", "queued", "sent"]
    waiting = [email for email, state in states(store, "reminder").items() if state == "queued"]
    answered = store.find_recipient(waiting[0])
    store.record_answer(answered.id, "yes", {}, "web")
    dry = invite(workspace, port, "send", "--mailing", "reminder", "--dry-run",
                 str(workspace / "dry"))
    assert [f.name for f in (workspace / "dry").glob("*.eml")] == [
        eml_filename("00001", waiting[1])]
    rest = invite(workspace, port, "send", "--yes", "--mailing", "reminder")
    assert rest.exit_code == 0, rest.output
    assert states(store, "reminder")[waiting[0]] == "cancelled"
    assert states(store, "reminder")[waiting[1]] == "sent"
    assert len(catcher.to(waiting[0])) == 1  # the invitation only
    assert dry.exit_code == 0


def test_dry_run_leaves_out_people_who_unsubscribed_after_being_queued(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    _, port = relay
    store.add_recipients(PEOPLE)
    assert invite(workspace, port, "send", "--yes", "--limit", "1").exit_code == 0
    store.unsubscribe(store.find_recipient("john.smith@example.org").id)
    result = invite(workspace, port, "send", "--dry-run", str(tmp_path / "eml"))
    assert result.exit_code == 0, result.output
    assert [f.name for f in sorted((tmp_path / "eml").glob("*.eml"))] == [
        "00001-helene.lefevre@example.org.eml"]


def test_eml_file_names_never_leave_the_folder(tmp_path: Path) -> None:
    assert eml_filename("00001", "a/../../b\\c:d@example.org") == \
        "00001-a_.._.._b_c_d@example.org.eml"


def test_lines_that_begin_with_a_dot_arrive_unchanged(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """SMTP ends a message at a line holding a single dot; ours are stuffed on the wire."""
    catcher, port = relay
    override = workspace / "templates" / "mail"
    override.mkdir(parents=True)
    (override / "invitation.en.txt.j2").write_text(
        "{{ greeting }}\n.\n..two\n.end {{ links.answer }}\n", encoding="utf-8")
    store.add_recipients(PEOPLE[2:])
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    text = mail.parsed().get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Dear Mr Smith,\n.\n..two\n.end https://rsvp.example.org/r/")


def test_an_unreadable_reply_to_the_whole_message_is_unknown_not_retried(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """The relay took the mail but its reply makes no sense: sending it again would
    deliver it twice, so it is reported as unknown."""
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.garble_times["anna.schmidt@example.org"] = 1
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.05", "--concurrency", "1")
    assert result.exit_code == 1
    assert "Unknown: anna.schmidt@example.org: the relay's reply to the whole message could " \
           "not be read" in result.output
    assert catcher.data_attempts["anna.schmidt@example.org"] == 1
    assert len(catcher.to("anna.schmidt@example.org")) == 1
    assert states(store)["anna.schmidt@example.org"] == "sending"
    assert len(catcher.snapshot()) == 3  # the others went out on a fresh connection


def test_a_relay_refusing_a_reconnect_defers_the_mail_instead_of_failing_it(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """A 554 greeting ("too many connections") is about the connection, not the person."""
    catcher, port = relay
    store.add_recipients(PEOPLE)
    catcher.hangup_at_rcpt["anna.schmidt@example.org"] = 1
    catcher.refuse_reconnects = 1
    result = invite(workspace, port, "send", "--yes", "--retry-delay", "0.05", "--concurrency", "1")
    assert result.exit_code == 0, result.output
    assert "Failed" not in result.output
    assert len(catcher.to("anna.schmidt@example.org")) == 1
    assert set(states(store).values()) == {"sent"}


def test_ctrl_c_while_the_queue_is_full_leaves_no_unsent_mail_looking_sent(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """Only a mail the relay got may be left `sending` by an interrupted run."""
    import asyncio
    import time
    catcher, port = relay
    catcher.delay = 0.3
    store.add_recipients([person(f"p{i}@example.org", "en", last_name=f"P{i}") for i in range(30)])
    sender = _sender_for(workspace, store, port, concurrency=2)

    async def interrupt() -> None:
        task = asyncio.create_task(sender.run())
        while len(catcher.data_attempts) < 3:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the producer now waits for room in the full queue
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupt())
    time.sleep(0.5)  # let the relay finish what it was given
    # Whole messages the relay got (it counts one before its delay; a run stopped at once
    # drops the line while the relay waits, so the relay may never file it).
    arrived = set(catcher.data_attempts)
    rows = states(store)
    assert {email for email, state in rows.items() if state == "sending"} <= arrived
    assert {email for email, state in rows.items() if state == "sent"} <= arrived
    assert sum(state == "queued" for state in rows.values()) >= 20


def test_a_row_no_longer_due_when_its_turn_comes_is_not_sent(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """A long run checks each row as it reaches it: someone who answered after the
    reminders were queued gets none, even within the same run."""
    import asyncio
    catcher, port = relay
    store.add_recipients(PEOPLE)
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    sender = _sender_for(workspace, store, port, mailing="reminder")
    sender.outbox.queue("reminder")
    store.record_answer(store.find_recipient("helene.lefevre@example.org").id, "yes", {}, "web")
    report = asyncio.run(asyncio.wait_for(sender.run(), 20))
    assert report.sent == 2
    assert len(catcher.to("helene.lefevre@example.org")) == 1  # the invitation only
    assert states(store, "reminder")["helene.lefevre@example.org"] == "queued"
    rerun = invite(workspace, port, "send", "--yes", "--mailing", "reminder")
    assert "No reminders to send." in rerun.output
    assert states(store, "reminder")["helene.lefevre@example.org"] == "cancelled"


def _html_lines(mail: Any) -> list[str]:
    html = mail.parsed().get_body(("html",)).get_content()
    return html.replace("\r\n", "\n").split("\n")


def test_html_lines_are_packed_for_the_wire_and_read_the_same(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    """Relays and scanners work line by line: the HTML goes out in few long lines;
    a line break in HTML is whitespace like a space, so the page reads the same."""
    from mailer.content.composer import Composer
    from rsvp.config import load_event
    from rsvp.settings import load_settings
    catcher, port = relay
    store.add_recipients(PEOPLE[:1])
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    lines = _html_lines(mail)
    settings = load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY,
                                         "INVITE_BASE_URL": "https://rsvp.example.org"})
    rendered, _ = Composer(settings, load_event(settings.event_file), store).render(
        "invitation", store.find_recipient("anna.schmidt@example.org"))
    assert len(lines) * 4 < rendered.html.count("\n")
    assert max(len(line.encode()) for line in lines) <= 998
    # The links are signed anew for the second rendering; a second may have passed.
    def words(html: str) -> list[str]:
        return re.sub(r"/([ru])/[A-Za-z0-9._-]+", r"/\1/TOKEN", html).split()
    received = " ".join(lines)
    assert words(received) == words(rendered.html)  # the same words and tags in order
    assert words(received) != received.split()  # the links were there to be set aside


def test_html_with_preformatted_text_keeps_its_lines(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    override = workspace / "templates" / "mail"
    override.mkdir(parents=True)
    (override / "invitation.de.html.j2").write_text(
        "<html><body>\n<pre>\n{{ greeting }}\n  eingerückt\n</pre>\n"
        "<a href=\"{{ links.answer }}\">x</a>\n<a href=\"{{ links.unsubscribe }}\">y</a>\n"
        "</body></html>\n", encoding="utf-8")
    store.add_recipients(PEOPLE[:1])
    assert invite(workspace, port, "send", "--yes").exit_code == 0
    [mail] = catcher.snapshot()
    lines = _html_lines(mail)
    start = lines.index("<pre>Sehr geehrte Frau Dr. Schmidt,")  # (a parser drops the first \n)
    assert lines[start + 1:start + 3] == ["  eingerückt", "</pre>"]


def test_a_terminal_gets_a_progress_bar_and_the_summary(
        workspace: Path, store: Store, relay: tuple[ScriptedRelay, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from mailer.cli.campaign import run_send
    from mailer.delivery.sender import SendOptions
    from mailer.people.workspace import open_workspace
    catcher, port = relay
    store.add_recipients(PEOPLE)
    for name, value in {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
                        "INVITE_SMTP_PORT": str(port),
                        "INVITE_BASE_URL": BASE_URL}.items():
        monkeypatch.setenv(name, value)
    screen = io.StringIO()
    out = Console(file=screen, force_terminal=True, width=100)
    assert run_send(open_workspace(workspace), SendOptions(), out, out)
    shown = screen.getvalue()
    assert "Sending invitations" in shown
    assert "3/3" in shown
    assert "Invitations this run" in shown
    assert len(catcher.snapshot()) == 3
