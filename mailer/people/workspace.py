"""Create a workspace with the shipped example event and open an existing one."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from mailer.content.render import shipped_templates
from rsvp.config import EventConfig, load_event
from rsvp.errors import ConfigError
from rsvp.settings import Settings, load_settings
from rsvp.store import Store, open_store

EXAMPLE_ZONE = ZoneInfo("Europe/Paris")


@dataclass
class Workspace:
    """An opened workspace: its settings, event and store, built once at the edge."""

    settings: Settings
    event: EventConfig
    store: Store

    def close(self) -> None:
        self.store.close()


def open_workspace(folder: Path) -> Workspace:
    event = load_event(folder / "event.toml")  # first: no key file in a folder that is no workspace
    settings = load_settings(folder)
    return Workspace(settings=settings, event=event, store=open_store(settings.database))


def example_dates(today: date) -> dict[str, str]:
    """Dates for the example: a Wednesday-to-Friday trip about four months ahead,
    answers due three weeks before (the original ran Wed 9 - Fri 11 April 2008)."""
    arrival = today + timedelta(days=120)
    arrival += timedelta(days=(2 - arrival.weekday()) % 7)
    deadline = arrival - timedelta(days=21)

    def offset(day: date) -> str:
        text = datetime.combine(day, time(12), EXAMPLE_ZONE).strftime("%z")
        return f"{text[:3]}:{text[3:]}"

    return {"arrival": arrival.isoformat(), "symposium": (arrival + timedelta(days=1)).isoformat(),
            "departure": (arrival + timedelta(days=2)).isoformat(),
            "deadline_date": deadline.isoformat(), "event_offset": offset(arrival),
            "deadline_offset": offset(deadline)}


def init_workspace(folder: Path, today: date | None = None) -> Path:
    """Write event.toml, recipients.csv and an empty templates/ into `folder`."""
    target = folder / "event.toml"
    if target.exists():
        raise ConfigError(f"{target} already exists; not overwriting it",
                          hint="Choose another folder, or remove the old workspace first.")
    folder.mkdir(parents=True, exist_ok=True)
    example = shipped_templates() / "example"
    source = (example / "event.toml.j2").read_text(encoding="utf-8")
    values = example_dates(today or date.today())
    text = jinja2.Template(source, undefined=jinja2.StrictUndefined,
                           keep_trailing_newline=True).render(values)
    target.write_text(text, encoding="utf-8")
    shutil.copyfile(example / "recipients.csv", folder / "recipients.csv")
    (folder / "templates").mkdir(exist_ok=True)
    load_event(target)
    return folder
