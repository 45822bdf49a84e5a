"""Render the recipient's pages from templates/pages, letting a workspace override each file.

The form and the recorded page are the hot path (issue 3): Jinja renders each once per
shape (language, deadline passed, summary rows, nominees ...) with markers where one
person's values go, kept as a plan that a request fills with that person's escaped texts
and checked states: the page Jinja would render (tests/test_pages_marked.py holds them
equal). A workspace that overrides a template of those pages gets the Jinja render.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from email.utils import parseaddr
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, FunctionLoader, StrictUndefined, TemplateNotFound

from rsvp.answers import TRUE_WORDS, is_asked
from rsvp.config import EventConfig, Question
from rsvp.i18n import Catalogue, catalogue
from rsvp.nomination_gate import Gate
from rsvp.nominations import NominationForm
from rsvp.store import Recipient, Response
from rsvp.web.marked import Plan, Slots, checker

ENV_OPTIONS: dict[str, Any] = {"autoescape": True, "undefined": StrictUndefined,
                               "trim_blocks": True, "lstrip_blocks": True}
FORM = "form.html.j2"
RECORDED = "recorded.html.j2"
# Bound for odd events (thirty nominations each): a few shapes per language are what
# real answers need.
MAX_PLANS = 256
FREE_TEXT = ("text", "number")
Loaded = tuple[str, str, Callable[[], bool]]


def _source_loader(override_dir: Path) -> Callable[[str], Loaded]:
    """Find `name` in the workspace's override folder first, then among the shipped pages."""
    shipped = files("templates").joinpath("pages")

    def load(name: str) -> Loaded:
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


class FormView(NamedTuple):
    """What the form shows one person (a tuple: a dataclass costs thrice as much to make)."""

    greeting: str
    attendance: str | None
    values: Mapping[str, Any]
    answer: Response | None = None
    nominees: Sequence[Mapping[str, str]] = ()
    standing: str = ""
    errors: Mapping[str, str] | None = None
    typed: Mapping[str, str] | None = None
    # Whether the nomination fieldset shows (open), says "closed for now", or is absent.
    gate: Gate = Gate.OPEN
    # The person's published brokerage meetings (rsvp.web.agenda), texts ready to show.
    agenda: Sequence[Mapping[str, str]] = ()
    test: bool = False  # reached with a test link: a banner says nothing is recorded


class Pages:
    """The page templates of one event, plus the wording helpers they need."""

    def __init__(self, event: EventConfig, override_dir: Path) -> None:
        self.event = event
        self._override_dir = override_dir
        self._load = _source_loader(override_dir)
        self.env = Environment(loader=FunctionLoader(self._load), **ENV_OPTIONS)
        # Its own environment renders the marked pages, so what they load is known.
        self._marked_env = Environment(loader=FunctionLoader(self._load_marked), **ENV_OPTIONS)
        # Set once a marked page loads a workspace's file: from then on Jinja renders them
        # all. As before, a file added while serving counts for templates not loaded yet.
        self._overridden = False
        self._plans: dict[Hashable, Plan | None] = {}
        self._free_text = tuple((q.id, f"v:{q.id}") for q in event.questions
                                if q.type in FREE_TEXT)

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
        return self._render(self.env, name, lang, root, context)

    def _render(self, env: Environment, name: str, lang: str, root: str,
                context: Mapping[str, Any]) -> str:
        texts = catalogue(lang)
        return env.get_template(name).render(
            lang=lang, t=texts.t, root=root, event=self.event,
            text=lambda value: self.event.text(value, lang),
            when=self.when(texts), deadline=self.moment(texts, self.event.rsvp.deadline),
            language_name=lambda code: catalogue(code).t("page.language_name"),
            contact_email=self.contact_email, **context,
        )

    def form(self, lang: str, root: str, closed: bool, view: FormView,
             nomination: Callable[[], NominationForm]) -> bytes:
        """Render the form page for one person in UTF-8; `nomination()` is needed by Jinja only."""
        current = {**view.values, "attendance": view.attendance}
        if not view.errors and not any((view.typed or {}).values()):
            answer = view.answer
            # The shape: what decides the page's markup beyond lang and root.
            shape = (closed, answer.attendance if answer else None, bool(view.standing),
                     tuple(bool(n["organisation"]) for n in view.nominees) if view.nominees
                     else (), view.gate, view.test,
                     tuple(bool(a["field"]) for a in view.agenda) if view.agenda else ())
            html = self._fast((FORM, lang, root), shape,
                              lambda slots: self._marked_form(slots, lang, closed, view,
                                                              nomination()),
                              self._form_texts(lang, closed, view), current)
            if html is not None:
                return html
        return self.render(FORM, lang, root, greeting=view.greeting, closed=closed,
                           summary=self._answer_summary(lang, view.answer),
                           attendance=view.attendance, values=view.values,
                           errors=view.errors or {}, nomination=nomination(),
                           standing=view.standing, agenda=view.agenda,
                           checked=checker(current), test_link=view.test).encode()

    def _form_texts(self, lang: str, closed: bool, view: FormView) -> dict[str, str]:
        """The texts for the form's slots (the summary shows only once answers are closed)."""
        texts = {"greeting": view.greeting, "standing": view.standing}
        for qid, key in self._free_text:
            texts[key] = view.values[qid]
        for i, nominee in enumerate(view.nominees):
            texts.update((f"n:{i}:{k}", v) for k, v in nominee.items())
        for i, meeting in enumerate(view.agenda):
            texts.update((f"a:{i}:{k}", v) for k, v in meeting.items())
        if closed:
            texts.update((f"s:{i}", value) for i, (_, value)
                         in enumerate(self._answer_summary(lang, view.answer)))
        return texts

    def _answer_summary(self, lang: str, answer: Response | None) -> list[tuple[str, str]]:
        return self.summary(lang, answer.attendance, answer.answers) if answer else []

    def _marked_form(self, slots: Slots, lang: str, closed: bool, view: FormView,
                     nomination: NominationForm) -> dict[str, Any]:
        """The form's context for the plan of `view`'s shape, with markers for its values."""
        answer = view.answer
        rows = self.summary(lang, answer.attendance, {}) if answer else []
        values = {**field_values(self.event, {}),
                  **{qid: slots.text(key) for qid, key in self._free_text}}
        nominees = [{k: slots.text(f"n:{i}:{k}") if v or k != "organisation" else ""
                     for k, v in n.items()} for i, n in enumerate(view.nominees)]
        return {"greeting": slots.text("greeting"), "closed": closed,
                "summary": [(label, slots.text(f"s:{i}")) for i, (label, _) in enumerate(rows)],
                "attendance": None, "values": values, "errors": {},
                "nomination": replace(nomination, nominees=nominees),
                "standing": slots.text("standing") if view.standing else "",
                "agenda": [{k: slots.text(f"a:{i}:{k}") if v or k != "field" else ""
                            for k, v in meeting.items()} for i, meeting in enumerate(view.agenda)],
                "checked": slots.checked, "test_link": view.test}

    def recorded(self, lang: str, root: str, answer: Response, nomination: str = "",
                 standing: str = "", test: bool = False) -> bytes:
        """Render what was recorded (with a `test` link: would be) and the standing, in UTF-8."""
        summary = self.summary(lang, answer.attendance, answer.answers)
        texts = {"nomination": nomination, "standing": standing,
                 **{f"s:{i}": value for i, (_, value) in enumerate(summary)}}

        def marked(slots: Slots) -> dict[str, Any]:
            return {"summary": [(label, slots.text(f"s:{i}"))
                                for i, (label, _) in enumerate(summary)],
                    "nomination": slots.text("nomination") if nomination else "",
                    "standing": slots.text("standing") if standing else "", "test_link": test}

        html = self._fast((RECORDED, lang, root), (answer.attendance, bool(nomination),
                                                   bool(standing), test), marked, texts, {})
        if html is not None:
            return html
        return self.render(RECORDED, lang, root, summary=summary, nomination=nomination,
                           standing=standing, test_link=test).encode()

    def _fast(self, page: tuple[str, str, str], shape: Hashable,
              marked: Callable[[Slots], dict[str, Any]], texts: Mapping[str, str],
              current: Mapping[str, Any]) -> bytes | None:
        """Fill the plan of `page` (name, lang, root) in `shape`; None: Jinja must render it."""
        if self._overridden:
            return None
        key = (page, shape)
        try:
            plan = self._plans[key]
        except KeyError:
            slots = Slots()
            html = self._render(self._marked_env, *page, marked(slots))
            if self._overridden:  # the render just loaded a workspace's file
                return None
            if len(self._plans) >= MAX_PLANS:
                # Pages render in several threads: iterating while another inserts would
                # raise, so take the oldest key from a copy; another may drop it first.
                oldest = next(iter(list(self._plans)), None)
                self._plans.pop(oldest, None)
            plan = self._plans[key] = Plan.parse(html, slots)
        return plan.fill(texts, current) if plan else None

    def _load_marked(self, name: str) -> Loaded:
        loaded = self._load(name)
        if loaded[1] == str(self._override_dir / name):
            self._overridden = True
        return loaded

    def render_error(self, key: str, root: str, lang: str | None = None) -> str:
        """Render the plain page for error `key` in `lang`, or (None) in every event
        language, default first."""
        languages = (lang,) if lang else self.languages
        sections = [{"lang": code, "title": catalogue(code).t(f"errors.{key}_title"),
                     "text": catalogue(code).t(f"errors.{key}_text")} for code in languages]
        return self.render("error.html.j2", languages[0], root, sections=sections)

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
