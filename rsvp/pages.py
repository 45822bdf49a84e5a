"""Render the recipient's pages from templates/pages, letting a workspace override each file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parseaddr
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined, TemplateNotFound

from rsvp.answers import TRUE_WORDS, is_asked
from rsvp.config import EventConfig, Question
from rsvp.i18n import Catalogue, catalogue
from rsvp.store import Recipient


def _source_loader(override_dir: Path) -> Callable[[str], tuple[str, str, Callable[[], bool]]]:
    """Find `name` in the workspace's override folder first, then among the shipped pages."""
    shipped = files("templates").joinpath("pages")

    def load(name: str) -> tuple[str, str, Callable[[], bool]]:
        if "/" in name or "\\" in name or name.startswith("."):
            raise TemplateNotFound(name)
        override = override_dir / name
        if override.is_file():
            mtime = override.stat().st_mtime
            return (override.read_text(encoding="utf-8"), str(override),
                    lambda: override.is_file() and override.stat().st_mtime == mtime)
        resource = shipped.joinpath(name)
        if not resource.is_file():
            raise TemplateNotFound(name)
        return resource.read_text(encoding="utf-8"), str(resource), lambda: True

    return load


class Pages:
    """The page templates of one event, plus the wording helpers they need."""

    def __init__(self, event: EventConfig, override_dir: Path) -> None:
        self.event = event
        self._load = _source_loader(override_dir)
        self.env = Environment(loader=FunctionLoader(self._load), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    @property
    def languages(self) -> tuple[str, ...]:
        """The event's languages, its default first: the order of stacked error texts."""
        default = self.event.default_language
        return (default, *(lang for lang in self.event.languages if lang != default))

    @property
    def contact_email(self) -> str:
        """The address people should write to: the reply-to, else the sender's address."""
        return self.event.sender.reply_to or parseaddr(self.event.sender.from_)[1]

    def stylesheet(self) -> str:
        return self._load("rsvp.css")[0]

    def render(self, name: str, lang: str, root: str, **context: Any) -> str:
        """Render page `name` in `lang`; `root` is the app's mount path for links."""
        texts = catalogue(lang)
        template = self.env.get_template(name)
        return template.render(
            lang=lang, t=texts.t, root=root, event=self.event,
            text=lambda value: self.event.text(value, lang),
            when=self.when(texts), deadline=self.moment(texts, self.event.rsvp.deadline),
            language_name=lambda code: catalogue(code).t("page.language_name"),
            contact_email=self.contact_email, **context,
        )

    def render_error(self, key: str, root: str) -> str:
        """Render the plain page for error `key`, in every event language, default first."""
        sections = [{"lang": lang, "title": catalogue(lang).t(f"errors.{key}_title"),
                     "text": catalogue(lang).t(f"errors.{key}_text")} for lang in self.languages]
        return self.render("error.html.j2", self.event.default_language, root, sections=sections)

    def error_text(self, key: str) -> str:
        """Return the explanation for error `key` in the default language, for the JSON API."""
        return catalogue(self.event.default_language).t(f"errors.{key}_text")

    def moment(self, texts: Catalogue, moment: datetime) -> str:
        local = moment.astimezone(self.event.zone)
        return texts.t("page.moment", date=texts.longdate(local), time=texts.time(local))

    def when(self, texts: Catalogue) -> str:
        start = self.event.start.astimezone(self.event.zone)
        end = self.event.end.astimezone(self.event.zone)
        if start.date() == end.date():
            return texts.t("page.same_day", date=texts.longdate(start),
                           start=texts.time(start), end=texts.time(end))
        return texts.t("page.days", start=self.moment(texts, start), end=self.moment(texts, end))

    def summary(self, lang: str, attendance: str, answers: Mapping[str, Any]) -> list[tuple[str, str]]:
        """List (label, value) rows of a recorded answer, worded for a person."""
        texts = catalogue(lang)
        rows = [(texts.t("page.attendance_label"), texts.t(f"page.attendance_{attendance}"))]
        for question in self.event.questions:
            if is_asked(question, attendance):
                rows.append((self.event.text(question.label, lang),
                             self._display(question, answers.get(question.id), texts)))
        return rows

    def _display(self, question: Question, value: Any, texts: Catalogue) -> str:
        labels = {o.id: self.event.text(o.label, texts.lang) for o in question.options}
        if question.type == "boolean":
            return texts.t("page.yes" if value is True else "page.no")
        if value is None or value == "" or value == []:
            return texts.t("page.not_answered")
        if question.type == "choice":
            return labels.get(value, str(value))
        if question.type == "choices":
            return texts.t("page.list_separator").join(labels.get(v, str(v)) for v in value)
        return str(value)


def field_values(event: EventConfig, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Turn stored answers or submitted form input into what each control shows."""
    values: dict[str, Any] = {}
    for question in event.questions:
        value = answers.get(question.id)
        if question.type == "choices":
            values[question.id] = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
        elif question.type == "boolean":
            values[question.id] = value is True or (
                isinstance(value, str) and value.strip().lower() in TRUE_WORDS)
        elif value is None or isinstance(value, bool):
            values[question.id] = ""
        else:
            values[question.id] = str(value)
    return values


def greeting(lang: str, recipient: Recipient) -> str:
    """Return the formal greeting line for `recipient` in `lang`."""
    return catalogue(lang).greeting(recipient.salutation, recipient.title,
                                    recipient.first_name, recipient.last_name)
