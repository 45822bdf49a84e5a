"""`{% shared %}...{% endshared %}`: parts of a mail that read the same for everyone.

Most of an invitation (the facts, the introduction, the programme, the list of
companies, the signature) is the same in every mail of one language; only the
greeting, the links and the address differ. A shared block is rendered once per
template, block and language in a mailing run and then reused, so a mailing of
thousands renders that bulk once instead of thousands of times.

Reuse is only safe if the block cannot show anything personal. So a shared block
may read only `event`, `sender` and `lang` (plus names it sets itself, `loop` and
Jinja's helpers): any other name, an include, an import or a nested block is
refused when the template is loaded, naming the template and line, before any
mail is rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.parser import Parser

# What every recipient of one language sees alike, and Jinja's own helpers.
SHARED_NAMES = frozenset({"event", "sender", "lang", "loop", "namespace", "range", "dict",
                          "cycler", "joiner"})
_FORBIDDEN = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Block, nodes.Extends)


class SharedExtension(Extension):
    """Renders each shared block once per language and keeps the text for the run."""

    tags: ClassVar[set[str]] = {"shared"}  # type: ignore[misc]  # jinja2 types it loosely

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._rendered: dict[tuple[str, str], str] = {}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endshared",), drop_needle=True)
        _check(body, parser, lineno)
        key = nodes.Const(f"{parser.name}:{lineno}")
        call = self.call_method("_render", [key, nodes.Name("lang", "load")])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render(self, key: str, lang: str, caller: Callable[[], str]) -> str:
        found = self._rendered.get((key, lang))
        if found is None:
            found = self._rendered[(key, lang)] = caller()
        return found


def _check(body: Iterable[nodes.Node], parser: Parser, lineno: int) -> None:
    """Refuse a shared block that could show something personal."""
    loaded: dict[str, int] = {}
    stored: set[str] = set()
    for statement in body:
        for node in (statement, *statement.find_all((nodes.Name, *_FORBIDDEN))):
            if not isinstance(node, (nodes.Name, *_FORBIDDEN)):
                continue
            if isinstance(node, _FORBIDDEN):
                parser.fail(f"a shared block cannot hold {{% {type(node).__name__.lower()} %}}",
                            node.lineno or lineno, TemplateSyntaxError)
            assert isinstance(node, nodes.Name)
            if node.ctx == "load":
                loaded.setdefault(node.name, node.lineno or lineno)
            else:
                stored.add(node.name)
    for name, line in loaded.items():
        if name not in SHARED_NAMES and name not in stored:
            parser.fail(f"a shared block is the same in every mail, so it cannot use "
                        f"{name!r}; move that part out of {{% shared %}} (it may use only "
                        f"event, sender and lang)", line, TemplateSyntaxError)
