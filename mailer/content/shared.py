"""`{% shared %}...{% endshared %}`: parts of a mail that read the same for everyone.

Most of an invitation (the facts, the introduction, the programme, the list of
companies, the signature) is the same in every mail of one language; only the
greeting, the links and the address differ. A shared block is rendered once per
template, block and language in a mailing run and then reused, so a mailing of
thousands renders that bulk once instead of thousands of times.

Reuse is only safe if the block cannot show anything personal, so templates are
checked when they are loaded, before any mail is rendered, and refused with the
template and line:

* inside a shared block, a name may be read only if it is `event`, `sender` or
  `lang`, one of Jinja's helpers, or bound earlier in the block itself, in a way
  that always runs (a `set` at the block's own level, a `for` target or `loop`
  inside that loop); a block may not bind a name the mail's context holds, nor
  include, import or define blocks;
* no mail template may bind `event`, `sender` or `lang` anywhere (`set`, `with`,
  `for`, macro parameters), so those three always hold what the renderer gave,
  which is the same for every recipient of the language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.parser import Parser

# What every recipient of one language sees alike.
SHARED_NAMES = frozenset({"event", "sender", "lang"})
# Jinja's global helpers, which hold nothing of a person.
_HELPERS = frozenset({"namespace", "range", "dict", "cycler", "joiner", "lipsum"})
# The rest of a mail's context: never to be bound inside a shared block.
PERSONAL_NAMES = frozenset({"recipient", "links", "greeting", "nominator"})
_FORBIDDEN = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Block, nodes.Extends)
# Part of the bytecode cache's folder name: templates compiled under older checks
# must be parsed (and so checked) again.
CHECK_VERSION = 2


class SharedExtension(Extension):
    """Renders each shared block once per language and keeps the text for the run."""

    tags: ClassVar[set[str]] = {"shared"}  # type: ignore[misc]  # jinja2 types it loosely

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._rendered: dict[tuple[str, str], str] = {}
        self._counts: dict[int, int] = {}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endshared",), drop_needle=True)
        _check_block(body, frozenset(SHARED_NAMES | _HELPERS), parser, lineno)
        # Numbered per template, so two blocks on one line keep apart.
        number = self._counts.get(id(parser), 0)
        self._counts[id(parser)] = number + 1
        key = nodes.Const(f"{parser.name}:{lineno}:{number}")
        call = self.call_method("_render", [key, nodes.Name("lang", "load")])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render(self, key: str, lang: str, caller: Callable[[], str]) -> str:
        found = self._rendered.get((key, lang))
        if found is None:
            found = self._rendered[(key, lang)] = caller()
        return found


class MailEnvironment(Environment):
    """A Jinja environment whose templates may not rebind `event`, `sender` or `lang`."""

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node in tree.find_all(nodes.Name):
            if node.ctx in ("store", "param") and node.name in SHARED_NAMES:
                raise TemplateSyntaxError(
                    f"{node.name!r} is given to every mail and cannot be set in a template; "
                    "use another name", node.lineno or 1, name, filename)
        return tree


def _check_block(body: Iterable[nodes.Node], bound: frozenset[str], parser: Parser,
                 lineno: int) -> None:
    """Refuse a shared block (or a part of one) that could show something personal.
    `bound` holds the names that certainly hold nothing personal at this point."""
    known = set(bound)
    for node in body:
        _refuse_forbidden(node, parser, lineno)
        if isinstance(node, nodes.For):
            _check_reads(node.iter, known, parser, lineno)
            inner = frozenset(known | _targets(node.target) | {"loop"})
            if node.test is not None:
                _check_reads(node.test, inner, parser, lineno)
            _check_block(node.body, inner, parser, lineno)
            _check_block(node.else_, frozenset(known), parser, lineno)
        elif isinstance(node, nodes.If):
            _check_reads(node.test, known, parser, lineno)
            # Names set in a branch may stay unset: they count only inside it.
            branches: list[list[nodes.Node]] = [node.body, node.else_]
            branches += [[elif_] for elif_ in node.elif_]
            for branch in branches:
                _check_block(branch, frozenset(known), parser, lineno)
        elif isinstance(node, nodes.Assign):
            _check_reads(node.node, known, parser, lineno)
            known |= _targets(node.target)
        elif isinstance(node, nodes.AssignBlock):
            _check_block(node.body, frozenset(known), parser, lineno)
            known |= _targets(node.target)
        else:
            _check_reads(node, known, parser, lineno)


def _refuse_forbidden(node: nodes.Node, parser: Parser, lineno: int) -> None:
    for found in (node, *node.find_all(_FORBIDDEN)):
        if isinstance(found, _FORBIDDEN):
            parser.fail(f"a shared block cannot hold {{% {type(found).__name__.lower()} %}}",
                        found.lineno or lineno, TemplateSyntaxError)
    for name in node.find_all(nodes.Name):
        if name.ctx in ("store", "param") and name.name in PERSONAL_NAMES:
            parser.fail(f"a shared block cannot set {name.name!r}", name.lineno or lineno,
                        TemplateSyntaxError)


def _check_reads(node: nodes.Node, known: set[str] | frozenset[str], parser: Parser,
                 lineno: int) -> None:
    """Every name `node` reads must be known; anything nested counts as read here."""
    names = [node] if isinstance(node, nodes.Name) else node.find_all(nodes.Name)
    for name in names:
        if name.ctx == "load" and name.name not in known:
            parser.fail(f"a shared block is the same in every mail, so it cannot use "
                        f"{name.name!r}; move that part out of {{% shared %}} (it may use only "
                        f"event, sender and lang)", name.lineno or lineno, TemplateSyntaxError)


def _targets(target: nodes.Node) -> set[str]:
    """The plain names an assignment or loop binds (a namespace attribute binds none)."""
    if isinstance(target, nodes.Name):
        return {target.name}
    return {name.name for name in target.find_all(nodes.Name) if name.ctx == "store"}
