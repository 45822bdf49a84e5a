"""The header encoders on their own: nothing a person typed can break a header line."""

from __future__ import annotations

import pytest

from mailer.content.compose import MessageBuilder
from mailer.content.headers import check_address, header_text, mailbox, needs_encoding
from mailer.content.render import RenderedMail


@pytest.mark.parametrize("address", ["anna@example.org\n", "anna@example.org\r\nBcc: x@evil.test",
                                     "anna smith@example.org", "anna@exa..mple.org",
                                     "jürgen@example.org"])
def test_an_address_that_could_break_a_header_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="cannot be used as a mail address in a header"):
        check_address(address)
    with pytest.raises(ValueError):
        mailbox("Anna", address)


def test_a_trailing_newline_counts_as_text_that_needs_encoding() -> None:
    assert needs_encoding("Einladung\n")
    assert not needs_encoding("Einladung")
    assert "\n" not in header_text("Einladung\n").replace("\r\n ", "")


def test_a_display_name_with_only_a_trailing_newline_is_flattened() -> None:
    assert mailbox("Anna Schmidt\n", "anna@example.org") == "Anna Schmidt <anna@example.org>"


@pytest.mark.parametrize("language", ["de\n", "dé", "d-e", ""])
def test_content_language_falls_back_to_english_for_anything_odd(language: str) -> None:
    builder = MessageBuilder("Office", "office@example.org", "")
    mail = RenderedMail(subject="Hallo", text="Text", html="<p>Text</p>")
    data = builder.build(mail, "Anna", "anna@example.org", "<1@example.org>",
                         "https://rsvp.example.org/u/x", language)
    assert b"\r\nContent-Language: en\r\n" in data


def test_message_bytes_use_crlf_only_even_when_a_template_has_lone_carriage_returns() -> None:
    builder = MessageBuilder("Office", "office@example.org", "", eight_bit=True)
    mail = RenderedMail(subject="Hallo", text="one\rtwo\nthree\r\n.four", html="<p>a\rb</p>")
    data = builder.build(mail, "Anna", "anna@example.org", "<1@example.org>",
                         "https://rsvp.example.org/u/x", "de")
    assert data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n")
    assert b"one\r\ntwo\r\nthree\r\n.four" in data


def test_wire_form_stuffs_leading_dots_and_ends_the_data() -> None:
    from mailer.delivery.smtp import wire_form
    assert wire_form(b".a\r\nb\r\n.\r\n..c\r\n") == b"..a\r\nb\r\n..\r\n...c\r\n.\r\n"
    assert wire_form(b"no newline") == b"no newline\r\n.\r\n"
