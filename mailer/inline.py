"""Inline the mail CSS into HTML templates once, when they are loaded, not per message."""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any

import css_inline
from jinja2 import BaseLoader, Environment, Template, TemplateNotFound, TemplateSyntaxError

from rsvp.errors import TemplateError

STYLE_TEMPLATE = "mail/style.css"
_JINJA = re.compile(r"\{%.*?%\}|\{#.*?#\}|\{\{.*?\}\}", re.DOTALL)
_STRUCTURE = re.compile(r"<(table|tr|td|th|tbody)\b", re.IGNORECASE)
_TABLE_OPEN = re.compile(r"(<table\b[^>]*>)(?!\s*<(?:tbody|thead|caption|colgroup)\b)", re.IGNORECASE)
_TABLE_CLOSE = re.compile(r"</table>", re.IGNORECASE)


def add_tbody(source: str) -> str:
    """Give every table an explicit <tbody>; else the HTML parser adds one inside
    the first loop iteration and a `{% for %}` over rows would repeat it."""
    opened = _TABLE_OPEN.sub(r"\1<tbody>", source)

    def close(match: re.Match[str]) -> str:
        before = opened[:match.start()].rstrip()
        return match.group(0) if before.lower().endswith("</tbody>") else "</tbody></table>"

    return _TABLE_CLOSE.sub(close, opened)


def needs_inlining(name: str) -> bool:
    return name.startswith("mail/") and name.endswith(".html.j2")


def inline_template(source: str, css: str, name: str) -> str:
    """Return `source` with `css` inlined, keeping every Jinja tag as it was.

    Jinja statements become HTML comments (which the parser keeps in place even
    inside tables) and expressions become plain tokens, so the HTML parser
    behind css-inline sees valid markup; both are restored afterwards.
    """
    tags: list[str] = []

    def protect(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        index = len(tags) - 1
        if match.group(0).startswith("{{"):
            return f"JINJAX{index}X"
        return f"<!--JINJAS{index}S-->"

    shielded = _JINJA.sub(protect, add_tbody(source))
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False,
                                    minify_css=True, extra_css=css)
    try:
        if "<html" in source.lower():
            inlined = inliner.inline(shielded)
        else:
            inlined = inliner.inline_fragment(shielded, css)
    except css_inline.InlineError as error:
        raise TemplateError(f"template {name}: the CSS cannot be inlined: {error}") from None
    if len(_STRUCTURE.findall(inlined)) < len(_STRUCTURE.findall(shielded)):
        raise TemplateError(
            f"template {name}: table rows or cells outside a <table> were dropped by the HTML parser",
            hint="Keep every <tr>/<td> inside a <table> within the same template block.")

    seen: set[int] = set()

    def restore(match: re.Match[str]) -> str:
        index = int(match.group(1) or match.group(2))
        seen.add(index)
        return tags[index]

    restored = re.sub(r"(?:<|&lt;)!--JINJAS(\d+)S--(?:>|&gt;)|JINJAX(\d+)X", restore, inlined)
    if len(seen) != len(tags):
        raise TemplateError(f"template {name}: a Jinja tag was lost while inlining the CSS",
                            hint="Keep Jinja tags out of <style> and between elements.")
    return restored


class InliningLoader(BaseLoader):
    """Wrap a loader so that mail HTML templates come back with their CSS inlined."""

    def __init__(self, inner: BaseLoader) -> None:
        self.inner = inner
        self._cache: dict[str, tuple[str, str | None, Callable[[], bool] | None]] = {}

    def get_source(self, environment: Environment, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        if not needs_inlining(template):
            return source, filename, uptodate
        try:
            css, _, _ = self.inner.get_source(environment, STYLE_TEMPLATE)
        except TemplateNotFound:
            css = ""
        return inline_template(source, css, template), filename, uptodate

    def load(self, environment: Environment, name: str,
             globals: MutableMapping[str, Any] | None = None) -> Template:
        """Load (from the bytecode cache when it can); a syntax error is reported on
        the line the author wrote, not on the line of the inlined source."""
        try:
            return super().load(environment, name, globals)
        except TemplateSyntaxError:
            if needs_inlining(name):
                source, filename, _ = self.inner.get_source(environment, name)
                environment.parse(source, name, filename)
            raise

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()
