"""Greetings, dates and the rendered mails: shipped templates, overrides, CSS inlining, MIME."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import jinja2
import pytest
from markupsafe import escape

from mailer.content.composer import Composer
from mailer.content.inline import inline_template
from mailer.content.render import shipped_templates
from mailer.people.workspace import init_workspace
from rsvp.config import EventConfig, load_event
from rsvp.errors import TemplateError
from rsvp.i18n import catalogue
from rsvp.settings import Settings, load_settings
from rsvp.store import Recipient, Store, open_store
from rsvp.tokens import LinkSigner
from tests.conftest import TEST_KEY, person

BASE_URL = "https://rsvp.example.org"
URL = re.compile(r"https?://[^\s\"'<>]+")
STYLED_TAGS = re.compile(r"<(?:p|td|h1|h2|a)\b[^>]*>")

# Greetings


@pytest.mark.parametrize(("lang", "salutation", "title", "first", "last", "expected"), [
    ("de", "Frau", "Dr.", "Anna", "Schmidt", "Sehr geehrte Frau Dr. Schmidt,"),
    ("de", "Herr", "", "Jürgen", "Müller", "Sehr geehrter Herr Müller,"),
    ("de", " herr ", "", "Jürgen", " Müller ", "Sehr geehrter Herr Müller,"),
    ("de", "", "", "Kim", "Bär", "Guten Tag Kim Bär,"),
    ("fr", "Mme", "", "Hélène", "Lefèvre", "Madame Lefèvre,"),
    ("fr", "M.", "", "François", "Garçon", "Monsieur Garçon,"),
    ("en", "Mr", "", "John", "Smith", "Dear Mr Smith,"),
    ("en", "Ms", "", "Emily", "Clarke", "Dear Ms Clarke,"),
    ("en", "Ms", "Dr.", "Emily", "Clarke", "Dear Dr. Clarke,"),
    ("de", "Frau", "Dr.", "Anna", "", "Sehr geehrte Damen und Herren,"),
    ("fr", "Mme", "", "Hélène", "", "Madame, Monsieur,"),
    ("en", "Mr", "", "John", " ", "Dear Sir or Madam,"),
])
def test_greeting(lang: str, salutation: str, title: str, first: str, last: str,
                  expected: str) -> None:
    assert catalogue(lang).greeting(salutation, title, first, last) == expected


MOMENT = datetime(2030, 4, 10, 9, 5)  # a Wednesday


@pytest.mark.parametrize(("lang", "longdate", "shortdate", "time"), [
    ("de", "Mittwoch, 10. April 2030", "10.04.2030", "09:05"),
    ("fr", "mercredi 10 avril 2030", "10/04/2030", "09 h 05"),
    ("en", "Wednesday, 10 April 2030", "10 Apr 2030", "09:05"),
])
def test_dates_and_times(lang: str, longdate: str, shortdate: str, time: str) -> None:
    texts = catalogue(lang)
    assert texts.longdate(MOMENT) == longdate
    assert texts.shortdate(MOMENT) == shortdate
    assert texts.time(MOMENT) == time


def test_the_first_of_the_month_is_1er_in_french() -> None:
    first = datetime(2030, 4, 1, 18, 0)  # a Monday
    assert catalogue("fr").longdate(first) == "lundi 1er avril 2030"
    assert catalogue("de").longdate(first) == "Montag, 1. April 2030"
    assert catalogue("en").longdate(first) == "Monday, 1 April 2030"


# The shipped mails, rendered for the shipped example event


@pytest.fixture
def example(tmp_path: Path) -> Iterator[tuple[Composer, Store]]:
    """The shipped example workspace (fixed dates), with a composer and its store."""
    folder = init_workspace(tmp_path / "limoges", today=date(2027, 1, 4))
    settings = load_settings(folder, {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": BASE_URL})
    store = open_store(settings.database)
    try:
        yield Composer(settings, load_event(settings.event_file), store), store
    finally:
        store.close()


def add(store: Store, email_address: str, language: str, **fields: str) -> Recipient:
    store.add_recipients([person(email_address, language, **fields)])
    return store.find_recipient(email_address)


WITH_SALUTATION = {
    "de": ({"salutation": "Frau", "title": "Dr.", "first_name": "Anna", "last_name": "Schmidt"},
           "Sehr geehrte Frau Dr. Schmidt,"),
    "fr": ({"salutation": "Mme", "title": "Dr.", "first_name": "Hélène",
            "last_name": "Lefèvre"}, "Madame Lefèvre,"),
    "en": ({"salutation": "Ms", "title": "Dr.", "first_name": "Emily", "last_name": "Clarke"},
           "Dear Dr. Clarke,"),
}
WITHOUT_SALUTATION = {"de": "Guten Tag Kim Bär,", "fr": "Bonjour Kim Bär,",
                      "en": "Dear Kim Bär,"}


@pytest.mark.parametrize("mailing", ["invitation", "reminder"])
@pytest.mark.parametrize("lang", ["de", "fr", "en"])
@pytest.mark.parametrize("salutation", [True, False], ids=["salutation", "no-salutation"])
def test_every_shipped_mail_renders(example: tuple[Composer, Store], mailing: str, lang: str,
                                    salutation: bool) -> None:
    composer, store = example
    if salutation:
        fields, greeting = WITH_SALUTATION[lang]
    else:
        fields, greeting = {"first_name": "Kim", "last_name": "Bär"}, WITHOUT_SALUTATION[lang]
    who = add(store, f"someone.{lang}@example.org", lang, **fields)
    mail, links = composer.render(mailing, who)
    event = composer.renderer.event

    assert mail.subject and "\n" not in mail.subject
    assert event.text(event.title, lang) in mail.subject
    assert mail.text.startswith(greeting + "\n")
    for url in (links.answer, links.unsubscribe):
        assert url.startswith(BASE_URL + "/")
        assert url in mail.text
        assert f'href="{url}"' in mail.html
    assert re.search(f'<p style="[^"]*">{re.escape(str(escape(greeting)))}</p>', mail.html)
    assert f'<html lang="{lang}" ' in mail.html
    for part in (mail.subject, mail.text, mail.html):
        for leftover in ("{{", "{%", "JINJAX", "JINJAS", "Undefined"):
            assert leftover not in part


@pytest.mark.parametrize("mailing", ["invitation", "reminder"])
@pytest.mark.parametrize("lang", ["de", "fr", "en"])
def test_the_html_is_inlined_and_loads_nothing(example: tuple[Composer, Store], mailing: str,
                                               lang: str) -> None:
    composer, store = example
    who = add(store, "anna@example.org", lang, salutation="Frau", last_name="Schmidt")
    mail, links = composer.render(mailing, who)
    html = mail.html
    # Outlook's conditional comments hold a bare <td>: no other client reads them.
    tags = STYLED_TAGS.findall(re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL))
    assert tags
    assert [tag for tag in tags if ' style="' not in tag] == []
    for banned in ("<script", "<img", "src=", "<link", "@import", "url(", "<iframe", "<object"):
        assert banned not in html.lower()
    allowed = {links.answer, links.unsubscribe, *(c.url for c in composer.renderer.event.companies)}
    assert set(URL.findall(html)) - allowed == set()
    assert links.answer in URL.findall(html)


def test_a_name_with_markup_is_escaped_in_html_and_kept_in_text(
        settings: Settings, event: EventConfig, store: Store) -> None:
    who = add(store, "mallory@example.org", "de", salutation="Frau",
              first_name="<b>Eve</b>", last_name="<script>alert(1)</script>")
    mail, _ = Composer(settings, event, store).render("invitation", who)
    assert mail.text.startswith("Sehr geehrte Frau <script>alert(1)</script>,\n")
    assert "Sehr geehrte Frau &lt;script&gt;alert(1)&lt;/script&gt;," in mail.html
    assert "<script" not in mail.html
    assert "alert(1)</script>" not in mail.html


# Workspace overrides and template errors


def override(settings: Settings, name: str, text: str) -> Path:
    path = settings.template_dir / "mail" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_workspace_template_replaces_the_shipped_one(
        settings: Settings, event: EventConfig, store: Store) -> None:
    override(settings, "invitation.de.txt.j2",
             "{{ greeting }}\nEigener Text für {{ event.title }}: {{ links.answer }}\n")
    german = add(store, "anna@example.org", "de", salutation="Frau", last_name="Schmidt")
    english = add(store, "john@example.org", "en", salutation="Mr", last_name="Smith")
    composer = Composer(settings, event, store)
    mail, links = composer.render("invitation", german)
    assert mail.text == f"Sehr geehrte Frau Schmidt,\nEigener Text für Testtreffen: {links.answer}\n"
    assert mail.subject.startswith("Einladung: ")
    assert "Dear Mr Smith," in composer.render("invitation", english)[0].text


def render_error(settings: Settings, event: EventConfig, store: Store,
                 lang: str = "de") -> TemplateError:
    who = add(store, f"someone.{lang}@example.org", lang, salutation="Frau", last_name="Schmidt")
    with pytest.raises(TemplateError) as caught:
        Composer(settings, event, store).render("invitation", who)
    return caught.value


def test_a_syntax_error_in_a_text_override_names_the_file_and_line(
        settings: Settings, event: EventConfig, store: Store) -> None:
    override(settings, "invitation.de.txt.j2", "{{ greeting }}\n\n{{ event.title( }}\n")
    assert render_error(settings, event, store).message == (
        "template mail/invitation.de.txt.j2, line 3: unexpected '}', expected ')'")


def test_a_syntax_error_in_an_html_page_override_names_the_right_line(
        settings: Settings, event: EventConfig, store: Store) -> None:
    override(settings, "invitation.de.html.j2",
             '<!DOCTYPE html>\n<html lang="de">\n<head><title>x</title></head>\n<body>\n'
             "<p>{{ greeting }}</p>\n<p>{{ event.title( }}</p>\n</body>\n</html>\n")
    assert render_error(settings, event, store).message == (
        "template mail/invitation.de.html.j2, line 6: unexpected '}', expected ')'")


def test_a_syntax_error_in_an_overridden_layout_names_the_layout(
        settings: Settings, event: EventConfig, store: Store) -> None:
    shipped = shipped_templates() / "mail" / "_layout.html.j2"
    lines = shipped.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[8] == "<title>{{ event.title }}</title>\n"
    lines[8] = "<title>{{ event.title( }}</title>\n"
    override(settings, "_layout.html.j2", "".join(lines))
    assert render_error(settings, event, store).message == (
        "template mail/_layout.html.j2, line 9: unexpected '}', expected ')'")


def test_a_missing_template_for_a_language_names_the_file(
        settings: Settings, event: EventConfig, store: Store) -> None:
    for part in ("subject", "txt", "html"):
        override(settings, f"welcome.de.{part}.j2", "Willkommen {{ recipient.last_name }}")
    german = add(store, "anna@example.org", "de", last_name="Schmidt")
    french = add(store, "helene@example.org", "fr", last_name="Lefèvre")
    composer = Composer(settings, event, store)
    assert composer.render("welcome", german)[0].text == "Willkommen Schmidt"
    with pytest.raises(TemplateError) as caught:
        composer.render("welcome", french)
    assert caught.value.message == (
        "there is no template mail/welcome.fr.subject.j2 for the welcome in 'fr'")
    assert caught.value.hint == "Add templates/mail/welcome.fr.subject.j2 to the workspace."


# CSS inlining around Jinja


def test_inlining_keeps_a_loop_between_table_rows() -> None:
    source = ("<table>\n{% for row in rows %}\n<tr><td class=\"cell\">{{ row }}</td></tr>\n"
              "{% endfor %}\n</table>\n<p>{{ footer }}</p>\n")
    inlined = inline_template(source, ".cell { color: red; } p { margin: 0; }", "mail/t.html.j2")
    html = jinja2.Environment(autoescape=True).from_string(inlined).render(
        rows=["one", "two", "three"], footer="end")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["one", "two", "three"]
    assert len(re.findall(r'<td class="cell" style="color:red">', html)) == 3
    assert '<p style="margin:0">end</p>' in html
    assert html.count("<tbody>") == 1


def test_a_row_outside_a_table_is_an_error() -> None:
    with pytest.raises(TemplateError) as caught:
        inline_template("<p>{{ a }}</p>\n<tr><td>{{ b }}</td></tr>\n", "td { color: red; }",
                        "mail/broken.html.j2")
    assert caught.value.message == (
        "template mail/broken.html.j2: table rows or cells outside a <table> were dropped by "
        "the HTML parser")
    assert caught.value.hint == "Keep every <tr>/<td> inside a <table> within the same template block."


# The message on the wire


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_composed_message_is_multipart_alternative_in_quoted_printable(
        settings: Settings, event: EventConfig, store: Store) -> None:
    who = add(store, "helene@example.org", "fr", salutation="Mme", first_name="Hélène",
              last_name="Lefèvre")
    composer = Composer(settings, event, store)
    # A fixed clock, so that the links of render() and compose() are the same.
    composer.signer = LinkSigner(settings.secret_keys, clock=lambda: 1_900_000_000)
    mail, links = composer.render("invitation", who)
    ready = composer.compose("invitation", who, message_id="<fixed.1@example.org>")
    message = parse(ready.data)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    # Parsed from wire bytes the bodies keep CRLF line ends; the text itself is unchanged.
    assert parts[0].get_content().replace("\r\n", "\n") == mail.text
    assert parts[1].get_content().replace("\r\n", "\n") == mail.html
    assert str(message["Subject"]) == mail.subject
    assert str(message["To"]) == "Hélène Lefèvre <helene@example.org>"
    assert message["Message-ID"] == "<fixed.1@example.org>"
    assert message["Content-Language"] == "fr"
    assert message["List-Unsubscribe"] == f"<{links.unsubscribe}>"
    assert all(len(line) <= 998 for line in ready.data.split(b"\r\n"))
    assert b"\n" not in ready.data.replace(b"\r\n", b"")


def test_the_same_instant_in_two_zones_is_formatted_in_each_zone() -> None:
    """Equal aware datetimes may read differently; the filter cache must tell them apart."""
    from datetime import timedelta, timezone

    from mailer.content.render import _date_filter
    format_time = _date_filter("time")
    paris = datetime(2027, 3, 26, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    utc = paris.astimezone(UTC)
    assert paris == utc
    assert (format_time({"lang": "de"}, paris), format_time({"lang": "de"}, utc)) == ("10:00", "09:00")
