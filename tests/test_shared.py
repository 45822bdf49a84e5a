"""`{% shared %}` blocks: rendered once per language, identical to rendering each time,
and refused where they could show one person's data to another."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mailer.content.composer import Composer
from mailer.content.render import shipped_templates
from mailer.people.workspace import init_workspace
from rsvp.config import EventConfig, load_event
from rsvp.errors import TemplateError
from rsvp.settings import Settings, load_settings
from rsvp.store import Store, open_store
from tests.conftest import TEST_KEY, person

SHARED_TAG = re.compile(r"\{%-? (?:end)?shared %\}")
PEOPLE = [("anna@example.org", "de", {"salutation": "Frau", "title": "Dr.", "first_name": "Anna",
                                      "last_name": "Schmidt", "organisation": "Netz <Nord>"}),
          ("kim@example.org", "de", {"first_name": "Kim", "last_name": "Bär"}),
          ("helene@example.org", "fr", {"salutation": "Mme", "last_name": "Lefèvre"}),
          ("john@example.org", "en", {"salutation": "Mr", "last_name": "Smith"}),
          ("jo@example.org", "en", {"first_name": "Jo", "last_name": "O'Neil & Co"})]


def _example(folder: Path) -> tuple[Settings, EventConfig, Store]:
    workspace = init_workspace(folder, today=date(2027, 1, 4))
    settings = load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY,
                                         "INVITE_BASE_URL": "https://rsvp.example.org"})
    store = open_store(settings.database)
    store.add_recipients([person(email, lang, **fields) for email, lang, fields in PEOPLE])
    return settings, load_event(settings.event_file), store


@pytest.mark.parametrize("mailing", ["invitation", "reminder", "confirmation"])
def test_shared_blocks_render_exactly_what_rendering_each_mail_would(
        tmp_path: Path, mailing: str) -> None:
    """The shipped templates with their shared blocks, and the same templates with the
    tags removed (as a workspace override), give the same bytes for every person."""
    settings, event, store = _example(tmp_path / "ws")
    plain = settings.template_dir / "mail"
    plain.mkdir(parents=True, exist_ok=True)
    tagged = 0
    for source in (shipped_templates() / "mail").glob("*.j2"):
        text = source.read_text(encoding="utf-8")
        tagged += len(SHARED_TAG.findall(text))
        (plain / source.name).write_text(SHARED_TAG.sub("", text), encoding="utf-8")
    assert tagged >= 12  # the invitations and the layout do share their bulk
    shared = Composer(replace(settings, workspace=tmp_path / "no-overrides"), event, store)
    unshared = Composer(settings, event, store)
    try:
        for email, _, _ in PEOPLE * 2:  # the second round reuses the shared parts
            who = store.find_recipient(email)
            links = unshared.links(who)
            said = {"answer": None, "applied": False}  # what the composer adds: no answer yet
            assert shared.renderer.render(mailing, who, links, said) == \
                unshared.renderer.render(mailing, who, links, said), email
    finally:
        store.close()


def _render_override(tmp_path: Path, source: str, email: str = "anna@example.org") -> str:
    """Render the German invitation text from a workspace override holding `source`."""
    settings, event, store = _example(tmp_path / "ws")
    folder = settings.template_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "invitation.de.txt.j2").write_text(source, encoding="utf-8")
    try:
        return Composer(settings, event, store).render(
            "invitation", store.find_recipient(email))[0].text
    finally:
        store.close()


@pytest.mark.parametrize("body, name", [
    ("{{ recipient.email }}", "recipient"), ("{{ greeting }}", "greeting"),
    ("{{ links.answer }}", "links"), ("{% if nominator %}x{% endif %}", "nominator"),
])
def test_a_shared_block_that_could_show_personal_data_is_refused(
        tmp_path: Path, body: str, name: str) -> None:
    with pytest.raises(TemplateError, match=(
            rf"invitation.de.txt.j2, line 3: a shared block is the same in every mail, "
            rf"so it cannot use '{name}'")):
        _render_override(tmp_path, "{{ greeting }}\n{% shared %}{{ event.title }}\n" + body
                         + "{% endshared %}\n")


def test_a_shared_block_may_not_include_other_templates(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="a shared block cannot hold {% include %}"):
        _render_override(tmp_path, '{% shared %}{% include "mail/invitation.en.txt.j2" %}'
                                   '{% endshared %}\n')


def test_names_set_and_looped_inside_a_shared_block_are_allowed(tmp_path: Path) -> None:
    text = _render_override(
        tmp_path, "{{ greeting }}\n{% shared %}{% set n = namespace(count=0) %}{% for item in "
        "event.programme %}{% set n.count = n.count + 1 %}{% endfor %}{{ n.count }} "
        "{{ lang }}{% endshared %}\n", email="kim@example.org")
    assert text == f"Guten Tag Kim Bär,\n{len(load_event(tmp_path / 'ws' / 'event.toml').programme)} de\n"


@pytest.mark.parametrize("source, refusal", [
    ("{% shared %}{% for recipient in [] %}{% endfor %}{{ recipient.email }}{% endshared %}",
     "a shared block cannot set 'recipient'"),
    (("{% set x = recipient.email %}{% shared %}{% if false %}{% set x = 1 %}{% endif %}"
     "{{ x }}{% endshared %}"), "so it cannot use 'x'"),
    ("{% set x = recipient.email %}{% shared %}{{ x }}{% set x = 1 %}{% endshared %}",
     "so it cannot use 'x'"),
    ("{% set sender = recipient %}{% shared %}{{ sender.email }}{% endshared %}",
     "'sender' is given to every mail and cannot be set in a template"),
    ("{% with event = recipient %}{% shared %}{{ event.email }}{% endshared %}{% endwith %}",
     "'event' is given to every mail and cannot be set in a template"),
    ("{% macro m(lang) %}{% shared %}{{ lang }}{% endshared %}{% endmacro %}{{ m(greeting) }}",
     "'lang' is given to every mail and cannot be set in a template"),
    ("{% for p in [recipient] %}{% shared %}{{ loop.nextitem }}{% endshared %}{% endfor %}",
     "so it cannot use 'loop'"),
], ids=["loop-rebinds", "conditional-set", "set-after-use", "set-sender", "with-event",
        "macro-param", "outer-loop"])
def test_no_way_round_the_check_lets_personal_data_into_a_shared_block(
        tmp_path: Path, source: str, refusal: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(refusal)):
        _render_override(tmp_path, "{{ greeting }}\n" + source + "\n")


def test_two_shared_blocks_on_one_line_keep_apart(tmp_path: Path) -> None:
    text = _render_override(tmp_path, "{% shared %}{{ lang }}-1{% endshared %}|"
                                      "{% shared %}{{ lang }}-2{% endshared %}\n")
    assert text == "de-1|de-2\n"
