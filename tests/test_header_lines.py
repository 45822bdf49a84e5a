"""Header lines (#9): folded within 78 characters, values unchanged for a reader, List-Id
and the out-of-office suppression on every mail, through the real compose path and a real
aiosmtpd relay."""

from __future__ import annotations

import email
import email.header
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.content.composer import Composer, header_name
from mailer.content.headers import (
    LINE,
    encoded_words,
    folded,
    header_text,
    mailbox_header,
    one_line,
    phrase_pieces,
)
from mailer.content.list_headers import ListIdentity, slug
from rsvp.config import load_event
from rsvp.settings import load_settings
from rsvp.store import Recipient, Store, open_store
from tests.conftest import BASE_URL, TEST_EVENT, TEST_KEY, person
from tests.relay import ScriptedRelay, running_relay

# Long titles make long subjects in every mailing; long names make long To lines.
LONG_EVENT = TEST_EVENT.replace(
    'title = { de = "Testtreffen", fr = "Réunion test", en = "Test meeting" }',
    'title = { de = "Internationalisierung von Clustern: Strategie, Methode und Werkzeuge für '
    'Netzwerkmanagerinnen und Netzwerkmanager", fr = "Internationalisation des clusters : '
    'stratégie, méthode et outils pour les responsables de réseaux d’entreprises", '
    'en = "Internationalisation of clusters: strategy, method and tools for network '
    'managers, companies and research laboratories"}').replace(
    'from = "Programmbüro <office@example.org>"',
    'from = "Geschäftsstelle Kompetenznetze Deutschland – Programmbüro für '
    'Internationalisierung <office@example.org>"').replace(
    'reply_to = "anna@example.org"',
    "reply_to = '\"Dr. Anna-Katharina Beispiel-Musterfrau, Referentin\" <anna@example.org>'")
PEOPLE = [
    person("anna.schmidt@example.org", "de", salutation="Frau", title="Prof. Dr.-Ing. habil.",
           first_name="Anna-Maria Theresia", last_name="Schmidt-Großkopf von Hohenzollern"),
    person("helene.lefevre@example.org", "fr", salutation="Mme", first_name="Hélène-Françoise",
           last_name="Lefèvre de la Rochefoucauld-Montbéliard d’Ornano"),
    person("john.smith@example.org", "en", salutation="Mr", first_name="John Jacob Jingleheimer",
           last_name="Smith-Worthington, Esq. (Managing Director, Research & Innovation)"),
    person("kurz@example.org", "de", last_name="Kurz"),
]
# Mailings that need no published meeting plan; agenda and timetable mails are built by
# the same builder (tests/test_publish.py sends them).
MAILINGS = ("invitation", "reminder", "confirmation", "regret", "waitlist", "update-1",
            "withdrawal")


def header_blocks(data: bytes) -> Iterator[list[str]]:
    """Every header block of a message: the top one and each MIME part's, as lines."""
    text = data.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    yield head.split("\r\n")
    block: list[str] | None = None
    for line in body.split("\r\n"):
        if block is not None:
            if not line:
                yield block
                block = None
            else:
                block.append(line)
        elif line.startswith("--=_invite_") and not line.endswith("--"):
            block = []


def fields(lines: list[str]) -> list[list[str]]:
    """The lines of a header block grouped by field (a folded field spans several)."""
    grouped: list[list[str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            grouped[-1].append(line)
        else:
            grouped.append([line])
    return grouped


def long_line_problems(data: bytes) -> list[str]:
    """Lines over 78 characters that a fold could have avoided, or over 998 at all: only
    one piece that cannot be cut (a word, an <address> or <URL>) may stand on a long
    line; an encoded word can always be cut into shorter ones."""
    problems = []
    for block in header_blocks(data):
        for field in fields(block):
            for number, line in enumerate(field):
                body = line.split(":", 1)[1] if number == 0 else line
                if len(line) > 998 or (len(line) > LINE and (len(body.split()) > 1
                                                              or "=?" in body)):
                    problems.append(line)
    return problems


def reparsed(name: str, raw_value: str) -> str:
    message = email.message_from_string(f"{name}:{raw_value}\r\n\r\n",
                                        policy=email.policy.default)
    return str(message[name])


def unchanged_by_folding(data: bytes) -> list[str]:
    """Fields whose value a reader (email.parser, policy.default) sees differently from
    the same field written on one line; empty when folding changed nothing."""
    changed = []
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for field in fields(head.split("\r\n")):
        name, value = "\r\n".join(field).split(":", 1)
        if len(field) > 1 and reparsed(name, value) != reparsed(name, value.replace("\r\n", "")):
            changed.append(name)
    return changed


def phrase_and_angle(raw: str) -> tuple[str, str]:
    """A `phrase <x>` value as the reader decodes it: the phrase (unquoted or decoded) and x."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]+)>\s*", raw.replace("\r\n", ""))
    assert match is not None, raw
    phrase, inside = match.groups()
    if phrase.startswith('"'):
        phrase = re.sub(r"\\(.)", r"\1", phrase[1:-1])
    else:
        phrase = str(email.header.make_header(email.header.decode_header(phrase)))
    return phrase, inside


def raw_field(data: bytes, name: str) -> str:
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    found = [value for field in fields(head.split("\r\n"))
             for key, _, value in ["\r\n".join(field).partition(":")] if key == name]
    assert len(found) == 1, (name, found)
    return found[0]


@pytest.fixture
def long_workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "long"
    (folder / "templates").mkdir(parents=True)
    (folder / "event.toml").write_text(LONG_EVENT, encoding="utf-8")
    return folder


@pytest.fixture
def composer(long_workspace: Path) -> Iterator[tuple[Composer, Store]]:
    settings = load_settings(long_workspace, {"INVITE_SECRET_KEY": TEST_KEY,
                                              "INVITE_BASE_URL": BASE_URL})
    store = open_store(settings.database)
    store.add_recipients(PEOPLE)
    for item in PEOPLE:
        store.record_answer(store.find_recipient(item.email).id, "yes", {}, "web")
    try:
        yield Composer(settings, load_event(settings.event_file), store), store
    finally:
        store.close()


def everyone(store: Store) -> list[Recipient]:
    return [store.find_recipient(p.email) for p in PEOPLE]


@pytest.mark.parametrize("mailing", MAILINGS)
def test_every_mailing_and_language_folds_within_78_and_reads_the_same(
        composer: tuple[Composer, Store], mailing: str) -> None:
    maker, store = composer
    for recipient in everyone(store):
        data = maker.compose(mailing, recipient).data
        assert long_line_problems(data) == [], mailing
        assert unchanged_by_folding(data) == []
        message = email.message_from_bytes(data, policy=email.policy.default)
        rendered, _ = maker.render(mailing, recipient)
        assert str(message["Subject"]) == rendered.subject
        assert len(rendered.subject) > 78  # the case this test is about
        [to] = message["To"].addresses
        assert (to.display_name, to.addr_spec) == (header_name(recipient), recipient.email)
        [sender] = message["From"].addresses
        assert sender.display_name == ("Geschäftsstelle Kompetenznetze Deutschland – "
                                       "Programmbüro für Internationalisierung")
        [reply] = message["Reply-To"].addresses
        assert (reply.display_name, reply.addr_spec) == (
            "Dr. Anna-Katharina Beispiel-Musterfrau, Referentin", "anna@example.org")
        assert message["List-Unsubscribe"].startswith(f"<{BASE_URL}/u/")
        assert message.get_content_type() in ("multipart/alternative", "multipart/mixed")


def test_list_id_names_the_event_with_a_stable_label_under_the_from_domain(
        composer: tuple[Composer, Store]) -> None:
    maker, store = composer
    label = f"{slug(maker.event.title['de'])}-{store.event_id}"
    assert label == f"internationalisierung-von-clustern-{store.event_id}"
    seen = set()
    for mailing in ("invitation", "reminder", "confirmation"):
        for recipient in everyone(store):
            phrase, list_id = phrase_and_angle(
                raw_field(maker.compose(mailing, recipient).data, "List-Id"))
            seen.add((phrase, list_id))
    # one List-Id for every mail of the event, whatever the mailing or language
    assert seen == {(maker.event.title["de"], f"{label}.example.org")}


def test_headers_keep_out_of_office_replies_away_and_do_not_claim_to_be_machine_mail(
        composer: tuple[Composer, Store]) -> None:
    maker, store = composer
    data = maker.compose("invitation", everyone(store)[0]).data
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"  # not All: NDRs still come
    assert message["Auto-Submitted"] is None
    assert message["Precedence"] is None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def invite(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": BASE_URL}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                              catch_exceptions=False)


@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bit", "quoted-printable"])
def test_the_relay_gets_folded_headers_in_every_language(
        long_workspace: Path, relay: tuple[ScriptedRelay, int], eight_bit: bool) -> None:
    catcher, port = relay
    catcher.offer_8bitmime = eight_bit
    store = open_store(load_settings(long_workspace, {"INVITE_SECRET_KEY": TEST_KEY}).database)
    try:
        store.add_recipients(PEOPLE)
        for item in PEOPLE:
            store.record_answer(store.find_recipient(item.email).id, "yes", {}, "web")
    finally:
        store.close()
    assert invite(long_workspace, port, "send", "--yes").exit_code == 0
    assert invite(long_workspace, port, "admit", *(p.email for p in PEOPLE)).exit_code == 0
    result = invite(long_workspace, port, "send", "--mailing", "confirmation", "--yes")
    assert result.exit_code == 0, result.output
    mails = catcher.snapshot()
    assert len(mails) == 2 * len(PEOPLE)
    for mail in mails:
        assert long_line_problems(mail.data) == []
        assert unchanged_by_folding(mail.data) == []
        message: EmailMessage = mail.parsed()
        assert message["List-Id"] is not None and message["X-Auto-Response-Suppress"]
        head = mail.data.split(b"\r\n\r\n", 1)[0]
        assert b"\r\nSubject: =?utf-8?b?" in head  # the first piece stays on the name's line
    by_language = {str(m.parsed()["Content-Language"]) for m in mails}
    assert by_language == {"de", "fr", "en"}


# The encoders on their own


def test_folding_breaks_only_between_pieces_and_never_before_the_first() -> None:
    line = folded("Subject", ["x" * 90, "short", "y" * 72])
    assert line == "Subject: " + "x" * 90 + "\r\n short\r\n " + "y" * 72
    assert folded("To", ["a", "b"]) == "To: a b"
    words = ["word"] * 30
    lines = folded("Subject", words).split("\r\n")
    assert all(len(item) <= LINE for item in lines)
    assert reparsed("Subject", folded("Subject", words)[8:]) == " ".join(words)


@pytest.mark.parametrize("name", ["Subject", "To", "From", "Reply-To", "List-Id",
                                  "X-A-Very-Long-Header-Field-Name-For-Testing"])
def test_encoded_words_fit_the_line_of_their_header_and_rfc_2047(name: str) -> None:
    text = "Überraschung für Ärztinnen und Ingenieure in Straßburg – ça marche 👍 " * 4
    line = folded(name, phrase_pieces(text, name))
    assert all(len(item) <= LINE for item in line.split("\r\n"))
    words = re.findall(r"=\?utf-8\?b\?[^?]*\?=", line)
    assert words and all(len(word) <= 75 for word in words)
    assert str(email.header.make_header(email.header.decode_header(
        line.split(":", 1)[1].replace("\r\n", "")))) == one_line(text)


def test_a_long_quoted_display_name_folds_between_words_and_parses_back() -> None:
    display = "Prof. Dr.-Ing. Maximilian von und zu Musterhausen, Lehrstuhl für Fügetechnik"
    line = mailbox_header("To", display.encode("ascii", "ignore").decode(), "m@example.org")
    assert all(len(item) <= LINE for item in line.split("\r\n"))
    message = email.message_from_string(line + "\r\n\r\n", policy=email.policy.default)
    [address] = message["To"].addresses
    assert address.display_name == "Prof. Dr.-Ing. Maximilian von und zu Musterhausen, " \
                                   "Lehrstuhl fr Fgetechnik"
    assert address.addr_spec == "m@example.org"


def test_a_header_value_cannot_be_broken_by_line_breaks_or_fake_encoded_words() -> None:
    for hostile in ("Einladung\r\nBcc: evil@example.net", "=?utf-8?q?=0D=0ABcc:_x?= hi",
                    "A\u2028B\x00C"):
        line = folded("Subject", header_text(hostile).split(" "))
        unfolded = line.replace("\r\n ", " ")
        assert "\r" not in unfolded and "\n" not in unfolded
    assert encoded_words("", 42) == ["=?utf-8?b??="]


def test_slug_and_list_identity_keep_to_safe_characters() -> None:
    assert slug("Réunion d'été 2030 — Limoges!") == "reunion-d-ete-2030-limoges"
    assert slug("日本語") == "event"
    assert len(slug("a-very-long-title " * 10)) <= 40
    identity = ListIdentity.of('Tag "der" Cluster\r\nBcc: evil@example.net', "1A2b3c4d5e6f")
    assert identity.label == "tag-der-cluster-bcc-evil-example-net-1a2b3c4d5e6f"
    line = identity.list_id("Example.ORG")
    assert "\r\nBcc" not in line
    assert phrase_and_angle(line.split(":", 1)[1]) == (
        'Tag "der" Cluster Bcc: evil@example.net',
        "tag-der-cluster-bcc-evil-example-net-1a2b3c4d5e6f.example.org")


def test_agenda_and_timetable_mails_fold_their_headers_too(
        tmp_path: Path, relay: tuple[ScriptedRelay, int]) -> None:
    from tests.test_publish import FIRST_PLAN, brokerage_workspace, plan, publish
    catcher, port = relay
    workspace = brokerage_workspace(tmp_path)
    toml = workspace / "event.toml"
    long_title = LONG_EVENT.split("\n")[2]
    assert long_title.startswith("title = ")
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'title = { de = "Testtreffen", fr = "Réunion test", en = "Test meeting" }', long_title),
        encoding="utf-8")
    plan(workspace, *FIRST_PLAN)
    publish(workspace, port)
    mails = catcher.snapshot()
    assert len(mails) == 4  # two agendas, two timetables
    for mail in mails:
        assert long_line_problems(mail.data) == []
        assert unchanged_by_folding(mail.data) == []
        message = mail.parsed()
        assert len(str(message["Subject"])) > 78
        assert message["List-Id"] is not None
