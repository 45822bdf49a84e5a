"""The background sender of `invite serve` with a relay's daily cap: it pauses when the
cap is used up and goes on after 00:00 UTC (#9)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from mailer.delivery.background import BackgroundSender
from mailer.delivery.relay_notes import until_midnight
from rsvp.config import load_event
from rsvp.nominations import nominate
from rsvp.settings import load_settings
from rsvp.store import open_store
from tests.conftest import AUTOMATIC_NOMINATIONS, TEST_KEY, make_workspace, person
from tests.relay import running_relay


def test_a_capped_relay_pauses_the_rounds_until_the_next_utc_day(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, AUTOMATIC_NOMINATIONS)
    with running_relay() as (catcher, port):
        settings = load_settings(workspace, {
            "INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org",
            "INVITE_SMTP_URL": f"smtp+plain://127.0.0.1:{port}?per_day=1"})
        event = load_event(settings.event_file)
        store = open_store(settings.database)
        store.add_recipients([person("anna@example.org")])
        anna = store.find_recipient("anna@example.org").id
        for name, email in (("Jean Dupont", "jean@example.fr"), ("Marie Roux", "marie@example.fr")):
            nominate(store, event, anna, name, email, "", "company", "de")
        now, day = [1000.0], [date(2027, 3, 1)]
        background = BackgroundSender(settings, event, clock=lambda: now[0],
                                      today=lambda: day[0])
        try:
            first = background.run_round()
            assert first.outcome == "sent" and first.sent == {"invitation": 1}
            assert len(catcher.snapshot()) == 1
            assert background.run_round().outcome == "waiting"
            now[0] += 24 * 3600.0  # past 00:00 UTC on the server's clock ...
            day[0] += timedelta(days=1)  # ... and a new UTC day for the cap
            second = background.run_round()
            assert second.outcome == "sent" and second.sent == {"invitation": 1}
            assert sorted(m.recipients[0] for m in catcher.snapshot()) == \
                ["jean@example.fr", "marie@example.fr"]
        finally:
            background.stop()
            store.close()


def test_until_midnight_counts_to_the_next_utc_day() -> None:
    from datetime import UTC, datetime
    assert until_midnight(datetime(2027, 3, 1, 23, 30, tzinfo=UTC)) == 1800.0
    assert until_midnight(datetime(2027, 3, 1, 0, 0, tzinfo=UTC)) == 86400.0
