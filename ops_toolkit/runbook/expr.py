"""The ``when`` expression language: a few operators over runbook variables, never eval or a shell.

Grammar::

    expr  := and ('or' and)*
    and   := not ('and' not)*
    not   := 'not' not | cmp
    cmp   := atom (('==' | '!=' | '=~') atom)?
    atom  := STRING | NAME | $NAME | ${NAME} | NUMBER | '(' expr ')'

A bare value is true when it is a non-empty string other than ``false``/``0``; an unset
variable is the empty string. ``=~`` is a regular-expression search whose right side must be
a quoted literal the runbook's author wrote: a pattern taken from a param or an alert label
could be made to backtrack for minutes (ReDoS), so it is refused when the expression parses.
Nesting (parentheses and ``not``) is limited to ``MAX_DEPTH`` so a hostile file cannot
exhaust the interpreter's stack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|=~|\(|\))
      | (?P<name>\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$?[A-Za-z_][A-Za-z0-9_]*)
      | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not"}
MAX_DEPTH = 50


class ExpressionError(ValueError):
    """A ``when`` expression that does not parse; the message names the column."""


@dataclass(frozen=True)
class Literal:
    value: str


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str
    operands: tuple[Node, ...]


Node = Literal | Variable | Compare | Not | BoolOp


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            raise ExpressionError(f"unexpected {text[column - 1]!r} at column {column}")
        group = match.lastgroup or ""
        value = match.group(group)
        kind = "keyword" if group == "name" and value in _KEYWORDS else group
        tokens.append((kind, value, match.start(group) + 1))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def deeper(self, column: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                f"nested more than {MAX_DEPTH} deep at column {column}; simplify the expression"
            )

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise ExpressionError("expression ends too early")
        self.index += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("empty expression")
        node = self.expr()
        extra = self.peek()
        if extra is not None:
            raise ExpressionError(f"unexpected {extra[1]!r} at column {extra[2]}")
        return node

    def expr(self) -> Node:
        return self._chain("or", self.conjunction)

    def conjunction(self) -> Node:
        return self._chain("and", self.negation)

    def _chain(self, keyword: str, operand: object) -> Node:
        assert callable(operand)
        nodes: list[Node] = [operand()]
        while (token := self.peek()) is not None and token[:2] == ("keyword", keyword):
            self.take()
            nodes.append(operand())
        return nodes[0] if len(nodes) == 1 else BoolOp(keyword, tuple(nodes))

    def negation(self) -> Node:
        token = self.peek()
        if token is not None and token[:2] == ("keyword", "not"):
            self.deeper(self.take()[2])
            node = Not(self.negation())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.atom()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ("==", "!=", "=~"):
            self.take()
            right = self.atom()
            if token[1] == "=~" and not isinstance(right, Literal):
                raise ExpressionError(
                    f"the right side of '=~' at column {token[2]} must be a quoted regular"
                    " expression written in the runbook, not a variable"
                )
            if token[1] == "=~" and isinstance(right, Literal):
                try:
                    re.compile(right.value)
                except re.error as exc:
                    raise ExpressionError(
                        f"bad regular expression at column {token[2]}: {exc}"
                    ) from None
            return Compare(token[1], left, right)
        return left

    def atom(self) -> Node:
        kind, value, column = self.take()
        if kind == "string":
            return Literal(_unquote(value))
        if kind == "number":
            return Literal(value)
        if kind == "name":
            return Variable(value.strip("${}"))
        if (kind, value) == ("op", "("):
            self.deeper(column)
            node = self.expr()
            closing = self.take()
            if closing[:2] != ("op", ")"):
                raise ExpressionError(f"expected ')' at column {closing[2]}")
            self.depth -= 1
            return node
        raise ExpressionError(f"unexpected {value!r} at column {column}")


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse_expression(text: str) -> Node:
    """Parse ``text``; raises ``ExpressionError`` naming the column of the problem."""
    return _Parser(text).parse()


def variables_in(node: Node) -> set[str]:
    """The variable names an expression reads (for lint)."""
    match node:
        case Variable(name):
            return {name}
        case Literal():
            return set()
        case Compare(_, left, right):
            return variables_in(left) | variables_in(right)
        case Not(operand):
            return variables_in(operand)
        case BoolOp(_, operands):
            return set().union(*(variables_in(o) for o in operands))
    return set()


def evaluate(node: Node, variables: Mapping[str, str]) -> bool:
    """Whether the expression holds for ``variables`` (unset variables are empty)."""
    return _truthy(_value(node, variables))


def _value(node: Node, variables: Mapping[str, str]) -> str | bool:
    match node:
        case Literal(value):
            return value
        case Variable(name):
            return variables.get(name, "")
        case Compare(op, left, right):
            a, b = _text(_value(left, variables)), _text(_value(right, variables))
            if op == "==":
                return a == b
            if op == "!=":
                return a != b
            return re.search(b, a) is not None
        case Not(operand):
            return not _truthy(_value(operand, variables))
        case BoolOp("and", operands):
            return all(_truthy(_value(o, variables)) for o in operands)
        case BoolOp(_, operands):
            return any(_truthy(_value(o, variables)) for o in operands)
    raise AssertionError(node)


def _text(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _truthy(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() not in ("", "false", "0", "no")
