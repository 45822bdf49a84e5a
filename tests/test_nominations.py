"""Putting forward another person: the form, the JSON API, the store and the exports."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from typer.testing import CliRunner

from mailer.cli import app
from mailer.delivery.background import BackgroundSender
from rsvp.config import EventConfig, load_event
from rsvp.i18n import catalogue
from rsvp.privacy import forget_person
from rsvp.settings import Settings, load_settings
from rsvp.store import Recipient, Store
from rsvp.web.app import create_app
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_KEY, make_workspace, person
from tests.relay import ScriptedRelay, running_relay
from tests.test_app import OPEN, form_url, token
from tests.test_background import environment

DE = catalogue("de")
EN = catalogue("en")
FR = catalogue("fr")

YES = {"attendance": "yes", "parts": ["symposium"], "comment": "Gern."}
NOMINEE = {"nominee_name": "Jean-Pierre de la Fontaine", "nominee_email": "jp@fontaine.example.fr",
           "nominee_organisation": "Fontaine SARL", "nominee_role": "company"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Nominations let through at once: these tests are about what follows a nomination."""
    return make_workspace(tmp_path, AUTOMATIC_NOMINATIONS)


def shown(text: str) -> str:
    return str(escape(text))


def with_limit(workspace: Path, limit: int) -> EventConfig:
    """The test event with `nominations_per_recipient` set."""
    path = workspace / "event.toml"
    rule = 'admission = "selection"\n'
    text = path.read_text(encoding="utf-8").replace(
        rule, f"{rule}nominations_per_recipient = {limit}\n")
    path.write_text(text, encoding="utf-8")
    return load_event(path)


@pytest.fixture
def client(settings: Settings, event: EventConfig, store: Store) -> TestClient:
    return TestClient(create_app(settings, event, store, clock=lambda: OPEN))


@pytest.fixture
def anna(store: Store) -> Recipient:
    store.add_recipients([person("anna@example.org", "de", salutation="Frau", first_name="Anna",
                                 last_name="Schmidt", organisation="Netz Nord",
                                 role="network_manager")])
    return store.find_recipient("anna@example.org")


def everyone(store: Store) -> list[str]:
    return [r.email for r in store.recipients()]


def error_line(field: str, message: str) -> str:
    return f'<p class="error" id="e-{field}">{shown(message)}</p>'


# the form


def test_the_form_offers_to_put_someone_forward(client: TestClient, settings: Settings,
                                                store: Store, anna: Recipient) -> None:
    page = client.get(form_url(settings, store, anna)).text
    assert f"<legend>{DE.t('page.nominee_legend')}</legend>" in page
    for field in ("name", "email", "organisation", "role"):
        label = shown(DE.t(f"page.nominee_{field}"))
        assert f'<label for="f-nominee_{field}">{label}</label>' in page
    assert '<option value="network_manager">Netzwerkmanagement</option>' in page
    assert '<option value="company">Unternehmen</option>' in page
    assert '<option value="other">Sonstige</option>' in page
    assert shown(DE.t("page.nominee_remaining", count=2, limit=2)) in page
    assert 'type="email" name="nominee_email"' in page
    french = client.get(form_url(settings, store, anna, "fr")).text
    assert f"<legend>{FR.t('page.nominee_legend')}</legend>" in french
    assert '<option value="company">Entreprise</option>' in french


def test_a_nomination_with_the_answer_adds_a_linked_recipient(
        client: TestClient, settings: Settings, store: Store, anna: Recipient) -> None:
    page = client.post(form_url(settings, store, anna, "en"), data={**YES, **NOMINEE})
    assert page.status_code == 200
    assert shown("We will send an invitation to Jean-Pierre de la Fontaine "
                 "(jp@fontaine.example.fr).") in page.text
    nominee = store.find_recipient("jp@fontaine.example.fr")
    assert (nominee.first_name, nominee.last_name) == ("Jean-Pierre de la", "Fontaine")
    assert (nominee.organisation, nominee.role) == ("Fontaine SARL", "company")
    assert nominee.nominated_by == anna.id
    assert nominee.language == "de"  # the nominator's, not the page's
    assert store.response(anna.id).attendance == "yes"  # type: ignore[union-attr]
    assert store.response(nominee.id) is None
    again = client.get(form_url(settings, store, anna)).text
    assert shown(DE.t("page.nominees_heading")) in again
    assert "Jean-Pierre de la Fontaine (jp@fontaine.example.fr), Fontaine SARL" in again
    assert shown(DE.t("page.nominee_remaining", count=1, limit=2)) in again


def test_the_nominee_gets_the_language_of_the_nominator(
        client: TestClient, settings: Settings, store: Store) -> None:
    store.add_recipients([person("claire@example.fr", "fr", last_name="Dubois")])
    claire = store.find_recipient("claire@example.fr")
    page = client.post(form_url(settings, store, claire),
                       data={"attendance": "no", "nominee_name": "Paul", "nominee_email":
                             "paul@example.fr", "nominee_role": "other"})
    assert shown(FR.t("page.nominee_invited", name="Paul", email="paul@example.fr")) in page.text
    paul = store.find_recipient("paul@example.fr")
    assert (paul.language, paul.first_name, paul.last_name) == ("fr", "", "Paul")
    assert paul.role == "other"


def test_a_nomination_alone_keeps_the_current_answer(
        client: TestClient, settings: Settings, store: Store, anna: Recipient) -> None:
    url = form_url(settings, store, anna)
    client.post(url, data=YES)
    refused = client.post(url, data=NOMINEE)
    assert refused.status_code == 422
    assert error_line("attendance", DE.t("errors.attendance")) in refused.text
    assert everyone(store) == ["anna@example.org"]
    accepted = client.post(url, data={**YES, **NOMINEE})
    assert accepted.status_code == 200
    assert len(store.history(anna.id)) == 1
    assert store.find_recipient("jp@fontaine.example.fr").nominated_by == anna.id


def test_an_idn_domain_is_kept_and_sent_to_in_ascii(
        client: TestClient, settings: Settings, store: Store, anna: Recipient) -> None:
    client.post(form_url(settings, store, anna),
                data={**YES, **NOMINEE, "nominee_email": "Kontakt@Bücher.example"})
    nominee = store.find_recipient("kontakt@bücher.example")
    assert (nominee.email, nominee.email_ascii) == ("Kontakt@bücher.example",
                                                    "Kontakt@xn--bcher-kva.example")


# already invited, and the limit


@pytest.mark.parametrize("address", ["anna@example.org", "ANNA@example.ORG"])
def test_an_address_already_invited_is_not_added_again(
        client: TestClient, settings: Settings, store: Store, anna: Recipient,
        address: str) -> None:
    store.add_recipients([person("bert@example.org", last_name="Berger")])
    bert = store.find_recipient("bert@example.org")
    page = client.post(form_url(settings, store, bert),
                       data={**YES, **NOMINEE, "nominee_email": address})
    assert page.status_code == 200
    typed = address.split("@")[0] + "@example.org"
    assert shown(DE.t("page.nominee_known", email=typed)) in page.text
    for secret in ("Schmidt", "Netz Nord", "network_manager"):
        assert secret not in page.text
    assert everyone(store) == ["anna@example.org", "bert@example.org"]
    assert store.find_recipient("anna@example.org") == anna
    assert store.response(bert.id).attendance == "yes"  # type: ignore[union-attr]
    form = client.get(form_url(settings, store, bert)).text
    assert shown(DE.t("page.nominee_remaining", count=2, limit=2)) in form


def test_the_same_person_put_forward_twice_is_added_once(
        client: TestClient, settings: Settings, store: Store, anna: Recipient) -> None:
    url = form_url(settings, store, anna)
    client.post(url, data={**YES, **NOMINEE})
    second = client.post(url, data={**YES, **NOMINEE,
                                    "nominee_email": "JP@fontaine.example.fr"})
    assert shown(DE.t("page.nominee_known", email="JP@fontaine.example.fr")) in second.text
    assert everyone(store) == ["anna@example.org", "jp@fontaine.example.fr"]


def test_beyond_the_limit_nothing_is_recorded(
        settings: Settings, store: Store, anna: Recipient, workspace: Path) -> None:
    client = TestClient(create_app(settings, with_limit(workspace, 1), store, clock=lambda: OPEN))
    url = form_url(settings, store, anna)
    assert client.post(url, data={**YES, **NOMINEE}).status_code == 200
    refused = client.post(url, data={"attendance": "no", "nominee_name": "Zoé Martin",
                                     "nominee_email": "zoe@example.fr",
                                     "nominee_role": "company"})
    assert refused.status_code == 422
    assert error_line("nominee", DE.t("errors.nominee_limit", limit=1)) in refused.text
    assert f'<a href="#f-nominee">{shown(DE.t("page.nominee_legend"))}: ' in refused.text
    assert everyone(store) == ["anna@example.org", "jp@fontaine.example.fr"]
    assert store.response(anna.id).attendance == "yes"  # type: ignore[union-attr]
    form = client.get(url).text
    assert shown(DE.t("page.nominee_full", limit=1)) in form
    assert 'name="nominee_email"' not in form


def test_with_a_limit_of_zero_nobody_can_be_put_forward(
        settings: Settings, store: Store, anna: Recipient, workspace: Path) -> None:
    client = TestClient(create_app(settings, with_limit(workspace, 0), store, clock=lambda: OPEN))
    assert DE.t("page.nominee_legend") not in client.get(form_url(settings, store, anna)).text
    zoe = {"name": "Zoé", "email": "zoe@example.fr", "role": "company"}
    put = client.put(f"/api/responses/{token(settings, store, anna)}",
                     json={"attendance": "yes", "nominee": zoe})
    assert put.status_code == 422
    assert put.json() == {"detail": {"nominee": DE.t("errors.nominee_none")}}
    assert everyone(store) == ["anna@example.org"]


# mistakes next to their field


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"nominee_email": "not-an-address"}, "nominee_email",
     DE.t("errors.nominee_email_invalid", reason="An email address must have an @-sign.")),
    ({"nominee_email": "jp@fontaine"}, "nominee_email",
     DE.t("errors.nominee_email_invalid",
          reason="The part after the @-sign is not valid. It should have a period.")),
    ({"nominee_email": "jürgen@example.org"}, "nominee_email",
     DE.t("errors.nominee_email_invalid",
          reason="Internationalized characters before the @-sign are not supported: 'ü'.")),
    ({"nominee_email": ""}, "nominee_email", DE.t("errors.nominee_email")),
    ({"nominee_name": "  "}, "nominee_name", DE.t("errors.nominee_name")),
    ({"nominee_name": "Jean\x00Pierre"}, "nominee_name", DE.t("errors.control")),
    ({"nominee_organisation": "Line\u2028break"}, "nominee_organisation", DE.t("errors.control")),
    ({"nominee_name": "x" * 101}, "nominee_name",
     DE.t("errors.too_long", max=100, length=101)),
    ({"nominee_role": ""}, "nominee_role", DE.t("errors.nominee_role")),
    ({"nominee_role": "boss"}, "nominee_role", DE.t("errors.nominee_role")),
])
def test_a_bad_nominee_field_is_shown_next_to_it_and_nothing_is_recorded(
        client: TestClient, settings: Settings, store: Store, anna: Recipient,
        change: dict[str, str], field: str, message: str) -> None:
    page = client.post(form_url(settings, store, anna), data={**YES, **NOMINEE, **change})
    assert page.status_code == 422
    assert error_line(field, message) in page.text
    assert f'<a href="#f-{field}">' in page.text
    assert f'aria-describedby="e-{field}" aria-invalid="true"' in page.text
    assert everyone(store) == ["anna@example.org"]
    assert store.response(anna.id) is None


def test_a_rejected_nomination_keeps_what_was_typed(
        client: TestClient, settings: Settings, store: Store, anna: Recipient) -> None:
    page = client.post(form_url(settings, store, anna),
                       data={**YES, **NOMINEE, "nominee_email": "jp@@fontaine"}).text
    assert 'id="f-nominee_name" value="Jean-Pierre de la Fontaine"' in page
    assert 'id="f-nominee_email" value="jp@@fontaine"' in page
    assert '<option value="company" selected>' in page
    assert 'id="f-attendance-yes" value="yes" checked' in page


def test_an_invalid_answer_with_a_nomination_records_neither(
        client: TestClient, settings: Settings, store: Store, anna: Recipient) -> None:
    page = client.post(form_url(settings, store, anna),
                       data={**YES, **NOMINEE, "comment": "x" * 201, "nominee_email": "nope"})
    assert page.status_code == 422
    assert 'id="e-comment"' in page.text and 'id="e-nominee_email"' in page.text
    valid_nominee = client.post(form_url(settings, store, anna),
                                data={**YES, **NOMINEE, "comment": "x" * 201})
    assert valid_nominee.status_code == 422
    assert everyone(store) == ["anna@example.org"]
    assert store.response(anna.id) is None


def test_what_a_person_typed_is_escaped(client: TestClient, settings: Settings, store: Store,
                                        anna: Recipient) -> None:
    url = form_url(settings, store, anna)
    evil = {"nominee_name": "<b>x</b>", "nominee_organisation": "<i>Org</i>"}
    recorded = client.post(url, data={**YES, **NOMINEE, **evil}).text
    form = client.get(url).text
    for page in (recorded, form):
        assert "<b>x</b>" not in page
        assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<i>Org</i>" not in form and "&lt;i&gt;Org&lt;/i&gt;" in form
    rejected = client.post(url, data={**YES, **NOMINEE, **evil, "nominee_email": "x"}).text
    assert 'value="&lt;b&gt;x&lt;/b&gt;"' in rejected
    assert store.find_recipient("jp@fontaine.example.fr").last_name == "<b>x</b>"


# the JSON API


def test_json_nomination_and_the_list_of_nominees(
        client: TestClient, settings: Settings, store: Store, anna: Recipient) -> None:
    url = f"/api/responses/{token(settings, store, anna)}?lang=en"
    nominee = {"name": "Zoé Martin", "email": "zoe@example.fr", "organisation": "Martin SA",
               "role": "company"}
    put = client.put(url, json={"attendance": "maybe", "answers": {}, "nominee": nominee})
    assert put.status_code == 200
    assert put.json()["nomination"] == {
        "status": "invited", "email": "zoe@example.fr",
        "message": EN.t("page.nominee_invited", name="Zoé Martin", email="zoe@example.fr")}
    assert put.json()["nominees"] == [nominee]
    assert client.get(url).json()["nominees"] == [nominee]
    known = client.put(url, json={"attendance": "maybe",
                                  "nominee": {**nominee, "email": "Anna@Example.org"}})
    assert known.json()["nomination"]["status"] == "already_invited"
    assert known.json()["nominees"] == [nominee]
    zoe = store.find_recipient("zoe@example.fr")
    assert (zoe.nominated_by, zoe.first_name, zoe.last_name) == (anna.id, "Zoé", "Martin")
    for someone_else in (zoe, store.find_recipient("anna@example.org")):
        if someone_else.id != anna.id:
            state = client.get(f"/api/responses/{token(settings, store, someone_else)}").json()
            assert state["nominees"] == []


@pytest.mark.parametrize(("body", "detail"), [
    ({"attendance": "yes", "nominee": {"name": "Zoé", "email": "zoe@", "role": "company"}},
     {"nominee_email": EN.t("errors.nominee_email_invalid",
                            reason="There must be something after the @-sign.")}),
    ({"attendance": "yes", "nominee": {"email": "zoe@example.fr", "role": "company"}},
     {"nominee_name": EN.t("errors.nominee_name")}),
    ({"attendance": "yes", "nominee": "zoe@example.fr"}, {"nominee": EN.t("errors.nominee")}),
    ({"attendance": "yes", "nominee": {"name": "Zoé", "email": "zoe@example.fr", "age": "3"}},
     {"nominee": EN.t("errors.nominee")}),
    ({"attendance": "yes", "nominee": {"name": "Zoé", "email": "zoe@example.fr", "role": 1}},
     {"nominee": EN.t("errors.nominee")}),
    ({"attendance": "often", "nominee": {"name": "Zoé", "email": "zoe@example.fr"}},
     {"attendance": EN.t("errors.attendance"), "nominee_role": EN.t("errors.nominee_role")}),
])
def test_json_nomination_names_the_bad_field_and_changes_nothing(
        client: TestClient, settings: Settings, store: Store, anna: Recipient,
        body: dict[str, Any], detail: dict[str, str]) -> None:
    put = client.put(f"/api/responses/{token(settings, store, anna)}?lang=en", json=body)
    assert put.status_code == 422
    assert put.json() == {"detail": detail}
    assert everyone(store) == ["anna@example.org"]
    assert store.response(anna.id) is None


# the exports


def test_exports_name_the_nominator(client: TestClient, settings: Settings, store: Store,
                                    anna: Recipient, workspace: Path) -> None:
    client.post(form_url(settings, store, anna), data={**YES, **NOMINEE})
    runner = CliRunner()
    for what in ("responses", "recipients"):
        result = runner.invoke(app, ["export", "--what", what, "-w", str(workspace)],
                               env={"INVITE_SECRET_KEY": TEST_KEY})
        assert result.exit_code == 0, result.output
        rows = {row["email"]: row for row in
                csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff")))}
        assert rows["jp@fontaine.example.fr"]["nominated_by"] == "anna@example.org"
        assert rows["jp@fontaine.example.fr"]["organisation"] == "Fontaine SARL"
        assert rows["anna@example.org"]["nominated_by"] == ""


# the nominee's invitation names who put them forward


NAMED = {
    "de": (person("dr.schmidt@example.org", "de", salutation="Frau", title="Dr.",
                  first_name="Anna", last_name="Schmidt", organisation="Netzwerk X"),
           ("Frau Dr. Anna Schmidt (Netzwerk X) hat Sie für die folgende Veranstaltung "
            "vorgeschlagen, zu der wir Sie herzlich einladen möchten:")),
    "fr": (person("helene@example.org", "fr", salutation="Mme", first_name="Hélène",
                  last_name="Lefèvre", organisation="Pôle Sud"),
           ("Mme Hélène Lefèvre (Pôle Sud) a proposé votre participation à la manifestation "
            "suivante, à laquelle nous avons le plaisir de vous inviter\u00a0:")),
    "en": (person("john@example.org", "en", salutation="Mr", first_name="John",
                  last_name="Smith", organisation="Cluster West"),
           ("John Smith (Cluster West) has put you forward for the following event, to which "
            "we would like to invite you:")),
}
NBSP = "\u00a0"
DE_LEAD = "wir möchten Sie herzlich zu folgender Veranstaltung einladen:"


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, int]]:
    with running_relay() as running:
        yield running


def put_forward(client: TestClient, settings: Settings, store: Store, nominator: str,
                email: str, name: str = "Jean-Pierre de la Fontaine") -> None:
    who = store.find_recipient(nominator)
    page = client.post(form_url(settings, store, who),
                       data={**YES, **NOMINEE, "nominee_email": email, "nominee_name": name})
    assert page.status_code == 200


def invite_nominees(workspace: Path, event: EventConfig, port: int) -> None:
    """One round of the background sender that `invite serve` runs."""
    background = BackgroundSender(load_settings(workspace, environment(port)), event)
    try:
        assert background.run_round().outcome == "sent"
    finally:
        background.stop()


def arrived(relay: ScriptedRelay, address: str) -> EmailMessage:
    [mail] = relay.to(address)
    return email.message_from_bytes(mail.data, policy=email.policy.default)  # type: ignore[no-any-return]


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def words(text: str) -> str:
    """The text with every run of white space as one space (the text part is wrapped)."""
    return " ".join(text.split())


@pytest.mark.parametrize("lang", ["de", "fr", "en"])
def test_a_nominees_invitation_names_who_put_them_forward(
        lang: str, client: TestClient, settings: Settings, store: Store, event: EventConfig,
        workspace: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    nominator, sentence = NAMED[lang]
    store.add_recipients([nominator])
    put_forward(client, settings, store, nominator.email, "jp@fontaine.example.fr")
    invite_nominees(workspace, event, port)
    mail = arrived(catcher, "jp@fontaine.example.fr")
    assert mail["Content-Language"] == lang
    assert words(sentence) in words(body(mail, "plain"))
    assert f">{sentence.replace(NBSP, '&nbsp;')}</p>" in body(mail, "html")


def test_only_a_nominee_is_told_and_what_they_typed_is_escaped(
        client: TestClient, settings: Settings, store: Store, event: EventConfig,
        workspace: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients([person("anna@example.org", "de", salutation="Frau",
                                 first_name="Anna", last_name="Schmidt",
                                 organisation="Müller & Söhne <GmbH>")])
    put_forward(client, settings, store, "anna@example.org", "jp@fontaine.example.fr")
    invite_nominees(workspace, event, port)
    nominee = arrived(catcher, "jp@fontaine.example.fr")
    assert ("Frau Anna Schmidt (Müller & Söhne <GmbH>) hat Sie für die folgende"
            in words(body(nominee, "plain")))
    assert (">Frau Anna Schmidt (Müller &amp; Söhne &lt;GmbH&gt;) hat Sie für die folgende"
            in body(nominee, "html"))
    result = CliRunner().invoke(app, ["send", "--yes", "-w", str(workspace)],
                                env=environment(port), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    listed = arrived(catcher, "anna@example.org")
    assert DE_LEAD in body(listed, "plain") and f">{DE_LEAD}</p>" in body(listed, "html")
    assert "vorgeschlagen" not in body(listed, "plain") + body(listed, "html")


def test_a_nominator_without_a_name_or_forgotten_since(
        client: TestClient, settings: Settings, store: Store, event: EventConfig,
        workspace: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    store.add_recipients([person("office@netz.example.org", "de", organisation="Netzwerk X"),
                          person("carl@example.org", "de", first_name="Carl",
                                 last_name="Gone", organisation="Weg GmbH")])
    put_forward(client, settings, store, "office@netz.example.org", "one@example.fr")
    put_forward(client, settings, store, "carl@example.org", "two@example.fr")
    forget_person(store, store.find_recipient("carl@example.org").id)
    invite_nominees(workspace, event, port)
    by_organisation = body(arrived(catcher, "one@example.fr"), "plain")
    assert "Netzwerk X hat Sie für die folgende Veranstaltung vorgeschlagen" in words(
        by_organisation)
    assert "office@netz.example.org" not in by_organisation
    forgotten = arrived(catcher, "two@example.fr")
    assert DE_LEAD in body(forgotten, "plain")
    assert all(name not in body(forgotten, kind) for name in ("Carl", "Gone", "Weg GmbH")
               for kind in ("plain", "html"))


def test_a_workspace_template_can_use_the_nominator(
        client: TestClient, settings: Settings, store: Store, event: EventConfig,
        workspace: Path, anna: Recipient, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    (workspace / "templates" / "mail").mkdir()
    (workspace / "templates" / "mail" / "invitation.de.subject.j2").write_text(
        "{% if nominator %}Vorschlag von {{ nominator.full_name }}{% else %}Einladung"
        "{% endif %}", encoding="utf-8")
    put_forward(client, settings, store, "anna@example.org", "jp@fontaine.example.fr")
    invite_nominees(workspace, event, port)
    result = CliRunner().invoke(app, ["send", "--yes", "-w", str(workspace)],
                                env=environment(port), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert str(arrived(catcher, "jp@fontaine.example.fr")["Subject"]) == "Vorschlag von Anna Schmidt"
    assert str(arrived(catcher, "anna@example.org")["Subject"]) == "Einladung"
