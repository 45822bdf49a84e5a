"""Render a recipient's mail (subject, text, HTML) from Jinja2 templates."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import pass_context, pass_environment
from jinja2.filters import do_wordwrap

from mailer.content.headers import one_line
from mailer.content.inline import InliningLoader
from mailer.content.shared import CHECK_VERSION, MailEnvironment, SharedExtension
from mailer.content.views import (
    NominatorView,
    SenderView,
    event_view,
    nominator_view,
)
from rsvp.config import EventConfig
from rsvp.errors import TemplateError
from rsvp.i18n import Catalogue, catalogue
from rsvp.store import Recipient

PARTS = ("subject", "txt", "html")
# Where an HTML line break is more than whitespace (see RenderedMail.packable).
PREFORMATTED = ("<pre", "<textarea", "<listing", "<xmp", "<plaintext", "white-space:pre",
                "white-space: pre")

# Finds the person with that id who put a recipient forward (None if forgotten since).
NominatorLookup = Callable[[int], Recipient | None]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    # The HTML's line breaks are plain whitespace (no template preformats text), so its
    # lines may be packed together for the wire.
    packable: bool = False


@dataclass(frozen=True)
class Links:
    answer: str
    unsubscribe: str


def shipped_templates() -> Path:
    return Path(str(files("templates")))


def make_environment(override_dir: Path | None) -> jinja2.Environment:
    """A Jinja2 environment where the workspace's templates/ override the shipped ones."""
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None and override_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.FileSystemLoader(str(shipped_templates())))
    env = MailEnvironment(
        loader=InliningLoader(jinja2.ChoiceLoader(loaders), _cache_folder("inlined")),
        undefined=jinja2.StrictUndefined,
        # select_autoescape() would miss "*.html.j2", so decide by the full suffix.
        autoescape=lambda name: name is not None and name.endswith(".html.j2"),
        keep_trailing_newline=True,
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
        extensions=[SharedExtension],
    )
    env.filters["longdate"] = _date_filter("longdate")
    env.filters["shortdate"] = _date_filter("shortdate")
    env.filters["time"] = _date_filter("time")
    env.filters["wordwrap"] = _cached_wordwrap
    return env


def _cache_folder(kind: str) -> Path | None:
    """A private folder under ~/.cache/invite (or $XDG_CACHE_HOME), None if it cannot be made."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "invite" / kind
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return folder


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (keyed by the source's checksum, so an
    edited template is compiled anew); compiling costs more than a small mailing."""
    # Versioned: a template compiled is not parsed again, so not checked again either.
    folder = _cache_folder(f"jinja-{CHECK_VERSION}")
    return jinja2.FileSystemBytecodeCache(str(folder)) if folder else None


# Most filtered values (the event's dates, its intro paragraphs) are the same in
# every mail of a mailing, so their formatted forms are computed once and reused.
_CACHE_LIMIT = 4096


def _date_filter(kind: str) -> Any:
    cache: dict[tuple[str, datetime, timedelta | None], str] = {}

    @pass_context
    def format_moment(context: Any, moment: datetime) -> str:
        # Aware datetimes of the same instant are equal in any zone: the offset tells
        # 10:00+01:00 from 09:00+00:00, which read differently.
        key = (context["lang"], moment, moment.utcoffset())
        found = cache.get(key)
        if found is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            found = cache[key] = str(getattr(catalogue(key[0]), kind)(moment))
        return found
    return format_moment


@pass_environment
@functools.lru_cache(maxsize=_CACHE_LIMIT)
def _cached_wordwrap(environment: jinja2.Environment, text: str, width: int = 79,
                     break_long_words: bool = True, wrapstring: str | None = None,
                     break_on_hyphens: bool = True) -> str:
    return do_wordwrap(environment, text, width, break_long_words, wrapstring, break_on_hyphens)


class MailRenderer:
    """Renders every mailing of one event; per-language parts are prepared once.

    With `nominators`, a nominee's mail names who put them forward (`nominator`);
    only a nominee costs a lookup. Without, or for anyone else, `nominator` is None.
    """

    def __init__(self, event: EventConfig, sender: SenderView, override_dir: Path | None,
                 nominators: NominatorLookup | None = None) -> None:
        self.event = event
        self.sender = sender
        self.nominators = nominators
        self.env = make_environment(override_dir)
        self._views = {lang: event_view(event, lang) for lang in event.languages}
        self._templates: dict[tuple[str, str, str], jinja2.Template] = {}
        self._no_preformatted: bool | None = None

    def language_of(self, recipient: Recipient) -> str:
        lang = recipient.language
        return lang if lang in self._views else self.event.default_language

    def template(self, mailing: str, lang: str, part: str) -> jinja2.Template:
        key = (mailing, lang, part)
        found = self._templates.get(key)
        if found is None:
            name = f"mail/{mailing}.{lang}.{part}.j2"
            try:
                found = self.env.get_template(name)
            except jinja2.TemplateNotFound:
                raise TemplateError(f"there is no template {name} for the {mailing} in {lang!r}",
                                    hint=f"Add templates/{name} to the workspace.") from None
            except jinja2.TemplateSyntaxError as error:
                raise TemplateError(f"template {error.name or name}, line {error.lineno}: {error.message}") from None
            self._templates[key] = found
        return found

    def render(self, mailing: str, recipient: Recipient, links: Links,
               extra: Mapping[str, Any] | None = None) -> RenderedMail:
        """Render the three parts, or raise TemplateError naming the recipient and value.
        `extra`: values only this mailing has (an agenda's `meetings`)."""
        lang = self.language_of(recipient)
        cat = catalogue(lang)
        context = {
            "lang": lang, "recipient": recipient, "event": self._views[lang],
            "sender": self.sender, "links": links,
            "greeting": cat.greeting(recipient.salutation, recipient.title,
                                     recipient.first_name, recipient.last_name),
            "nominator": self._nominator(recipient, cat),
            **(extra or {}),
        }
        parts = []
        for part in PARTS:
            template = self.template(mailing, lang, part)
            try:
                parts.append(template.render(context))
            except jinja2.TemplateSyntaxError as error:
                raise TemplateError(
                    f"template {error.name or template.name}, line {error.lineno}: {error.message}") from None
            except jinja2.UndefinedError as error:
                raise TemplateError(
                    f"template {template.name} for {recipient.email}: {error.message}",
                    hint="Fix the template or give that recipient the missing value, then try again.",
                ) from None
            except jinja2.TemplateError as error:
                raise TemplateError(f"template {template.name} for {recipient.email}: {error}") from None
        subject = one_line(parts[0])
        return RenderedMail(subject=subject, text=parts[1], html=parts[2],
                            packable=self._packable())

    def _packable(self) -> bool:
        """Whether no HTML mail template (shipped or the workspace's) preformats text,
        looked up once: values are escaped, so only a template can bring `<pre>`."""
        if self._no_preformatted is None:
            loader = self.env.loader
            assert isinstance(loader, InliningLoader)
            raw = loader.inner  # the sources before CSS inlining (which adds no <pre>)
            self._no_preformatted = True
            for name in raw.list_templates():
                if (not name.startswith("mail/") or "/." in name
                        or not name.endswith((".html.j2", ".html", ".css"))):
                    continue  # editor lock files and the like are never loaded
                try:
                    source = raw.get_source(self.env, name)[0].lower()
                except (OSError, ValueError, jinja2.TemplateNotFound):
                    self._no_preformatted = False  # unreadable: assume the worst
                    break
                if any(marker in source for marker in PREFORMATTED):
                    self._no_preformatted = False
                    break
        return self._no_preformatted

    def _nominator(self, recipient: Recipient, texts: Catalogue) -> NominatorView | None:
        if recipient.nominated_by is None or self.nominators is None:
            return None
        person = self.nominators(recipient.nominated_by)
        return nominator_view(person, texts) if person is not None else None
