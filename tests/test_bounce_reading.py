"""Bounces (#9): VERP ids and the reading of each sample report (tests/bounce_samples)."""

from __future__ import annotations

import pytest

from mailer.bounces.dsn import AutoReply, Bounce, Notice, message_key, read_message
from mailer.bounces.parts import Unreadable
from mailer.delivery import verp
from rsvp.errors import ConfigError
from rsvp.settings import load_settings
from tests.bounce_corpus import sample

KEYS = ("old-key-0123456789abcdef", "new-key-0123456789abcdef")
RCPT = "anna@partner.example"
MSGID = "<18c9e5.4f2a91c07d3e11aa@example.org>"


def test_a_verp_address_names_its_row_and_survives_lowercasing_and_key_rotation() -> None:
    address = verp.encode("bounces@example.org", 4711, KEYS)
    local, domain = address.split("@")
    assert domain == "example.org" and local.startswith("bounces+") and len(local) <= 64
    assert address == address.lower()
    assert verp.decode(address, KEYS) == 4711
    assert verp.decode(address.upper(), KEYS) == 4711
    assert verp.decode(f"<{address}>", KEYS[1:]) == 4711  # signed with the newest key
    assert verp.decode(address, ("another-workspace-key-0000",)) is None
    # The biggest row id still fits in 64 characters with the longest allowed name.
    shortest = verp.encode("b@example.org", 0, KEYS)
    assert len(shortest.split("@")[0]) == len("b+") + 18  # the docstring's 18 to 29
    longest = verp.encode("b" * 34 + "@example.org", 2**63, KEYS)
    assert len(longest.split("@")[0]) == 64
    assert verp.decode(longest, KEYS) == 2**63


@pytest.mark.parametrize("forged", [
    "bounces+aaaaaaaaaaaaaaaaaaaaaaaaaa@example.org",  # right shape, wrong MAC
    "bounces+ga4rppxrhh6h2r435o2a@example.org",  # another workspace's
    "bounces+0189@example.org",  # not base32
    "bounces@example.org",
    "bounces+@example.org",
])
def test_a_forged_or_foreign_verp_address_names_nothing(forged: str) -> None:
    assert verp.decode(forged, KEYS) is None
    assert verp.find_ids(f"To: {forged}", KEYS) == []


def test_changing_one_character_of_the_id_breaks_it() -> None:
    address = verp.encode("bounces@example.org", 12, KEYS)
    local, domain = address.split("@")
    last = "a" if local[-1] != "a" else "b"
    assert verp.decode(f"{local[:-1]}{last}@{domain}", KEYS) is None


@pytest.mark.parametrize(("value", "problem"), [
    ("bounces", "not a plain address like bounces@example.org"),
    ("bounces+x@example.org", "not a plain address"),
    ("Bounces <bounces@example.org>", "not a plain address"),
    ("bounces@localhost", "not a plain address"),
    ("b" * 35 + "@example.org", "has 35 characters before the @; at most 34"),
    # The VERP search finds [\w.-] before the +: others would make every bounce unmatched.
    ("bounce$s@example.org", "not a plain address"),
    ("b/ounces@example.org", "not a plain address"),
    ("bounces!@example.org", "not a plain address"),
])
def test_a_bounce_address_that_cannot_carry_an_id_is_refused(tmp_path, value: str,
                                                             problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"INVITE_SECRET_KEY": KEYS[0], "INVITE_BOUNCE_ADDRESS": value})
    assert problem in caught.value.message


def test_the_bounce_address_setting_is_kept_with_its_domain_lowercased(tmp_path) -> None:
    settings = load_settings(tmp_path, {"INVITE_SECRET_KEY": KEYS[0],
                                        "INVITE_BOUNCE_ADDRESS": " Bounces@Example.ORG "})
    assert settings.bounce_address == "Bounces@example.org"
    assert load_settings(tmp_path, {"INVITE_SECRET_KEY": KEYS[0]}).bounce_address == ""


@pytest.mark.parametrize(("name", "hard", "status", "reason"), [
    ("postfix_user_unknown", True, "5.1.1",
     f"550 5.1.1 <{RCPT}>: Recipient address rejected: User unknown in virtual mailbox table"),
    ("postfix_mailbox_full", False, "4.2.2",
     f"452 4.2.2 <{RCPT}>: Mailbox full, quota exceeded (mailbox for user is full)"),
    ("exim_failed", True, "5.1.1", f"550 5.1.1 <{RCPT}>: No such user here"),
    ("exchange_o365", True, "5.1.10", ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient "
                                       "not found by SMTP address lookup")),
    ("gmail_no_such_user", True, "5.1.1", (
        "550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. "
        "For more information, go to https://suppo…")),
    # No status, no SMTP reply, nothing flufl.bounce reads as permanent: soft at most.
    ("vague_verp_only", False, "", "delivery failed (no reason given)"),
    ("hostile_unknown_charset", True, "5.1.1",
     f"<{RCPT}>: host mx.partner.example said: 550 5.1.1 user unknown"),
    ("hostile_huge_year", True, "5.1.1", f"<{RCPT}>: 550 5.1.1 user unknown"),
])
def test_each_report_says_hard_or_soft_and_why(name: str, hard: bool, status: str,
                                               reason: str) -> None:
    address = verp.encode("bounces@example.org", 3, KEYS)
    found = read_message(sample(name, address, RCPT, MSGID))
    assert isinstance(found, Bounce)
    assert (found.hard, found.status, found.reason) == (hard, status, reason)
    assert verp.find_ids(found.proof_text, KEYS) == [3]
    if not name.startswith(("vague", "hostile")):
        assert found.addresses == (RCPT,)
        assert MSGID in found.message_ids
    assert found.dated is None or found.dated.year == 2026


@pytest.mark.parametrize(("name", "subject"), [
    ("ooo_de", "Abwesenheitsnotiz: Einladung"),  # Auto-Submitted
    ("ooo_fr", "Réponse automatique : Invitation"),  # the subject alone says it
    ("ooo_en", "Out of Office: Invitation"),  # X-Autoreply, Precedence: auto_reply
])
def test_out_of_office_replies_are_auto_replies_not_bounces(name: str, subject: str) -> None:
    found = read_message(sample(name, verp.encode("bounces@example.org", 9, KEYS), RCPT, MSGID))
    assert isinstance(found, AutoReply)
    assert found.subject == subject
    assert verp.find_ids(found.proof_text, KEYS) == [9]


def test_a_delay_warning_is_a_notice_and_a_newsletter_is_not_understood() -> None:
    assert read_message(sample("postfix_delayed", rcpt=RCPT)) == Notice("delayed")
    assert read_message(sample("newsletter")) is None


@pytest.mark.parametrize("name", ["sendmail_warning", "still_retried", "list_moderation"])
def test_plain_text_warnings_and_moderation_notices_are_no_bounces(name: str) -> None:
    assert read_message(sample(name, verp.encode("bounces@example.org", 3, KEYS), RCPT)) \
        == Notice("delayed")


def test_a_non_ascii_address_is_read_and_a_huge_nesting_refused_before_parsing() -> None:
    found = read_message(sample("hostile_non_ascii_address", rcpt=RCPT))
    assert isinstance(found, Bounce) and found.hard
    assert found.addresses == ("jörg@partner.example",)
    with pytest.raises(Unreadable, match="3000 MIME parts"):
        read_message(sample("hostile_deep_multipart", rcpt=RCPT))


def test_only_the_first_part_of_a_huge_message_is_searched(monkeypatch) -> None:
    address = verp.encode("bounces@example.org", 3, KEYS)
    late = sample("vague_verp_only", "bounces@example.org").replace(
        b"Sorry.", b"Sorry." + b" padding" * 20000 + f" {address} ".encode())
    found = read_message(late)
    assert isinstance(found, Bounce) and verp.find_ids(found.proof_text, KEYS) == []
    assert len(found.proof_text) < 70_000


def test_a_report_without_proof_carries_neither_verp_id_nor_our_message_id() -> None:
    found = read_message(sample("forged_no_proof", rcpt=RCPT))
    assert isinstance(found, Bounce) and found.hard and found.addresses == (RCPT,)
    assert verp.find_ids(found.proof_text, KEYS) == []
    assert found.message_ids == ("<guessed.1@example.org>",)


def test_the_message_key_is_the_message_id_or_a_hash_of_the_bytes() -> None:
    raw = sample("vague_verp_only", key="k1")
    assert message_key(raw) == "mid:<k1@old-partner.example>"
    assert message_key(raw.replace(b"\r\n", b"\n")) == message_key(raw)
    bare = b"From: x@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    assert message_key(bare).startswith("sha256:")
    assert message_key(bare) != message_key(bare + b"more\r\n")


def test_the_hash_is_the_same_from_maildir_mbox_and_an_imap_cut() -> None:
    body = b"".join(b"From the line %d on\r\nsome text\r\n" % i for i in range(40000))
    whole = b"From: x@example.org\r\nSubject: hi\r\n\r\n" + body
    quoted = whole.replace(b"\r\nFrom the", b"\n>From the").replace(b"\r\n", b"\n") + b"\n\n"
    cut = whole[:512 * 1024]  # what IMAP fetches of it
    assert len(whole) > 512 * 1024
    assert message_key(whole) == message_key(quoted) == message_key(cut)


def test_what_a_stranger_wrote_reaches_the_terminal_as_one_clean_line() -> None:
    raw = sample("postfix_user_unknown", rcpt=RCPT).replace(
        b"User unknown in virtual mailbox table",
        b"User unknown \x1b[2J\x1b]0;owned\x07 \xe2\x80\xae" + b"x" * 400)
    found = read_message(raw)
    assert isinstance(found, Bounce)
    assert "\x1b" not in found.reason and "\u202e" not in found.reason
    assert len(found.reason) == 200 and found.reason.endswith("…")
