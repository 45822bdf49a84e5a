"""Inline the mail CSS into HTML templates once, when they are loaded, not per message.

The result is also kept on disk, keyed by a hash of the template, the CSS and the
inliner's version, so a run whose templates did not change does not even import
css-inline (a tenth of `invite send`'s start-up).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, Template, TemplateNotFound, TemplateSyntaxError

from rsvp.errors import TemplateError

STYLE_TEMPLATE = "mail/style.css"
# Part of the disk cache's key: change it when inline_template's output changes.
INLINE_VERSION = "2"
# Ends every cached file: what lacks it (emptied by a crash, cut off) is made anew.
_END_MARK = "\n<!-- invite: end of inlined template -->"
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


@functools.cache
def _inliner_version() -> str:
    """Which css-inline is installed, without importing it (that costs 10 ms) or reading
    package metadata (30 ms): its module file's path, size and time."""
    spec = importlib.util.find_spec("css_inline")
    origin = spec.origin if spec else None
    if not origin:
        return "unknown"
    stat = os.stat(origin)
    return f"{origin}:{stat.st_size}:{stat.st_mtime_ns}"


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

    import css_inline  # here: on a warm cache, runs never need it

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

    def __init__(self, inner: BaseLoader, cache_dir: Path | None = None) -> None:
        self.inner = inner
        self.cache_dir = cache_dir

    def get_source(self, environment: Environment, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        if not needs_inlining(template):
            return source, filename, uptodate
        try:
            css, _, _ = self.inner.get_source(environment, STYLE_TEMPLATE)
        except TemplateNotFound:
            css = ""
        return self._inlined(source, css, template), filename, uptodate

    def _inlined(self, source: str, css: str, name: str) -> str:
        """Inline, or take what an earlier run inlined from exactly this input."""
        if self.cache_dir is None:
            return inline_template(source, css, name)
        digest = hashlib.sha256()
        for part in (INLINE_VERSION, _inliner_version(), name, css, source):
            digest.update(part.encode() + b"\0")
        key = digest.hexdigest()
        kept = self.cache_dir / f"{key}.html"
        try:
            cached = kept.read_text(encoding="utf-8")
            if cached.endswith(_END_MARK):  # a whole file, not an empty or cut-off one
                return cached[:-len(_END_MARK)]
        except (OSError, ValueError):
            pass
        inlined = inline_template(source, css, name)
        partial = kept.with_name(f".{key}.{os.getpid()}.part")
        try:  # written whole, then renamed: a reader never sees half a file
            partial.write_text(inlined + _END_MARK, encoding="utf-8")
            partial.replace(kept)
        except OSError:
            partial.unlink(missing_ok=True)
        return inlined

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
