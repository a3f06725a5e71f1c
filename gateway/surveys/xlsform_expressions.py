"""XLSForm expressions the gateway can run, turned into flow conditions and bounds.

pyxform's own lexer cuts the expression into tokens; the small grammar here accepts only what a
phone conversation can honour: ``${q} = 'x'``, ``!=``, ``selected(${q}, 'x')``, number
comparisons, ``and``, ``or``, ``not(...)`` and parentheses in ``relevant``; ``. >= 1 and . <= 50``
or ``string-length(.) <= 30`` in ``constraint``, where ``. <= ${q}`` and ``. >= ${q}``
compare with an earlier answer. Anything else raises ``Unsupported`` with a
sentence saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyxform.parsing.expression import parse_expression

Condition = dict[str, Any]


class Unsupported(Exception):
    """An expression the gateway cannot run; the message says why."""


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str


def _tokens(expression: str) -> list[_Tok]:
    found: list[_Tok] = []
    for token in parse_expression(expression):
        text = str(token).strip()
        if token.type == "WHITESPACE" or not text:
            continue
        # pyxform's lexer reads "<=" as "<" then "=".
        if text == "=" and found and found[-1].text in ("<", ">") and token.type == "OPS_COMP":
            found[-1] = _Tok("OPS_COMP", found[-1].text + "=")
            continue
        found.append(_Tok(token.type, text))
    return found


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.at = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, text: str | None = None, kind: str | None = None) -> _Tok:
        token = self.peek()
        if token is None or (text and token.text != text) or (kind and token.kind != kind):
            wanted = text or kind or "more"
            seen = token.text if token else "the end"
            raise Unsupported(f"'{self.expression}': expected {wanted} but found {seen}")
        self.at += 1
        return token

    def done(self) -> None:
        if self.peek() is not None:
            raise Unsupported(f"'{self.expression}': cannot read from '{self.peek_text()}'")

    def peek_text(self) -> str:
        token = self.peek()
        return token.text if token else ""


class _Relevant(_Parser):
    """``relevant`` into a flow ``when`` condition."""

    def __init__(self, expression: str, kinds: Mapping[str, str]) -> None:
        super().__init__(expression)
        self.kinds = kinds  # earlier question name -> flow question type

    def parse(self) -> Condition:
        condition = self.either()
        self.done()
        return condition

    def either(self) -> Condition:
        return self.joined("or", self.both, _any)

    def both(self) -> Condition:
        return self.joined("and", self.single, _all)

    def joined(
        self,
        word: str,
        part: Callable[[], Condition],
        combine: Callable[[list[Condition]], Condition],
    ) -> Condition:
        parts = [part()]
        while self.peek_text() == word:
            self.take(word)
            parts.append(part())
        return parts[0] if len(parts) == 1 else combine(parts)

    def single(self) -> Condition:
        token = self.peek()
        if token is None:
            raise Unsupported(f"'{self.expression}' ends too early")
        if token.text == "(":
            self.take("(")
            inner = self.either()
            self.take(")")
            return inner
        if token.text == "not(":
            self.take("not(")
            inner = self.either()
            self.take(")")
            return {"not": inner}
        if token.text == "selected(":
            self.take("selected(")
            name = self.reference()
            self.take(",")
            code = self.literal()
            self.take(")")
            return {name: {"selected": code}}
        if token.kind == "FUNC_CALL":
            raise Unsupported(
                f"'{self.expression}': the function {token.text[:-1]}() has no meaning over"
                " SMS/USSD; use =, !=, selected(), and, or, not()"
            )
        return self.comparison()

    def comparison(self) -> Condition:
        name = self.reference()
        op = self.take(kind="OPS_COMP").text
        value = self.value()
        kind = self.kinds[name]
        if op in ("=", "!="):
            text = str(value)
            return {name: {"equals": text}} if op == "=" else {name: {"not_in": [text]}}
        if kind not in ("integer", "decimal") or isinstance(value, str):
            raise Unsupported(f"'{self.expression}': {op} compares numbers; ${{{name}}} is not one")
        if op in (">", "<"):
            if kind != "integer" or not float(value).is_integer():
                raise Unsupported(
                    f"'{self.expression}': write >= or <= (a strict bound on a decimal cannot run)"
                )
            value = int(value) + (1 if op == ">" else -1)
        return {name: {"min" if op.startswith(">") else "max": value}}

    def reference(self) -> str:
        token = self.take(kind="PYXFORM_REF")
        name = token.text[2:-1]
        if name not in self.kinds:
            raise Unsupported(f"'{self.expression}': ${{{name}}} is not an earlier question")
        return name

    def literal(self) -> str:
        return self.take(kind="SYSTEM_LITERAL").text[1:-1]

    def value(self) -> str | int | float:
        token = self.peek()
        if token is not None and token.kind == "NUMBER":
            self.take()
            number = float(token.text)
            return int(number) if number.is_integer() and "." not in token.text else number
        return self.literal()


def _any(parts: list[Condition]) -> Condition:
    # ${q} = 'a' or ${q} = 'b' reads as the flow's {q: {in: [a, b]}}.
    keys = {_single_test(p, "equals") for p in parts}
    if len(keys) == 1 and None not in keys:
        (key,) = keys
        assert key is not None
        return {key: {"in": [p[key]["equals"] for p in parts]}}
    return {"any": parts}


def _all(parts: list[Condition]) -> Condition:
    # ${q} != 'a' and ${q} != 'b' reads as {q: {not_in: [a, b]}}.
    keys = {_single_test(p, "not_in") for p in parts}
    if len(keys) == 1 and None not in keys:
        (key,) = keys
        assert key is not None
        return {key: {"not_in": [v for p in parts for v in p[key]["not_in"]]}}
    merged: Condition = {}
    for part in parts:
        if set(part) & set(merged):
            return {"all": parts}
        merged.update(part)
    return merged


def _single_test(condition: Condition, op: str) -> str | None:
    if len(condition) != 1:
        return None
    ((key, test),) = condition.items()
    return key if key not in ("any", "not", "all") and op in test else None


def relevant_condition(expression: str, kinds: Mapping[str, str]) -> Condition:
    """The ``when`` of a ``relevant``; ``kinds`` maps earlier question names to their types."""
    return _Relevant(expression, kinds).parse()


# A constraint's comparison with an earlier answer, as a flow ``check`` names it.
_CHECK_OPS = {"<=": "not_above", ">=": "not_below"}


@dataclass(frozen=True, slots=True)
class Constraint:
    """What a ``constraint`` allows: bounds (of the number, or of the text's length) and rules
    against earlier answers, as (``not_above`` or ``not_below``, question name)."""

    low: float | None = None
    high: float | None = None
    checks: tuple[tuple[str, str], ...] = ()


class _Constraint(_Parser):
    """``constraint`` into bounds and rules against earlier answers."""

    def parse(self, *, length: bool) -> Constraint:
        low: float | None = None
        high: float | None = None
        checks: list[tuple[str, str]] = []
        while True:
            op, bound = self.bound(length)
            if isinstance(bound, str):
                checks.append((_CHECK_OPS[op], bound))
            elif op.startswith(">"):
                low = bound
            else:
                high = bound
            if self.peek_text() != "and":
                break
            self.take("and")
        self.done()
        return Constraint(low, high, tuple(checks))

    def bound(self, length: bool) -> tuple[str, float | str]:
        if length:
            self.take("string-length(")
            self.take(".")
            self.take(")")
        else:
            self.take(".")
        op = self.take(kind="OPS_COMP").text
        if op not in (">=", "<=", ">", "<"):
            raise Unsupported(f"'{self.expression}': only >=, <=, > and < make bounds")
        token = self.peek()
        if token is not None and token.kind == "PYXFORM_REF":
            return op, self.earlier_answer(op, length)
        number = float(self.take(kind="NUMBER").text)
        if op in (">", "<"):
            if not number.is_integer():
                raise Unsupported(f"'{self.expression}': write >= or <= for a decimal bound")
            number += 1 if op == ">" else -1
            op += "="
        return op, number

    def earlier_answer(self, op: str, length: bool) -> str:
        """The question a number is compared with: only ``. <= ${q}`` and ``. >= ${q}``."""
        if length or op not in _CHECK_OPS:
            raise Unsupported(
                f"'{self.expression}': an earlier answer is compared only as . <= ${{q}}"
                " (not above) or . >= ${q} (not below)"
            )
        return self.take(kind="PYXFORM_REF").text[2:-1]


def constraint_rules(expression: str, *, length: bool) -> Constraint:
    """What a ``constraint`` allows: its bounds, and its rules against earlier answers."""
    try:
        return _Constraint(expression).parse(length=length)
    except Unsupported as exc:
        shape = "string-length(.) <= 30" if length else ". >= 1 and . <= ${q}"
        raise Unsupported(f"{exc}; the gateway reads bounds such as {shape}") from None


def check_expression(op: str, key: str) -> str:
    """A flow ``check`` written back as a ``constraint`` term."""
    sign = next(sign for sign, name in _CHECK_OPS.items() if name == op)
    return f". {sign} ${{{key}}}"


def condition_expression(condition: Mapping[str, Any]) -> str:
    """A flow ``when`` written back as an XLSForm ``relevant``."""
    parts: list[str] = []
    for key, test in condition.items():
        if key == "any":
            parts.append("(" + " or ".join(condition_expression(c) for c in test) + ")")
        elif key == "all":
            parts.extend(condition_expression(c) for c in test)
        elif key == "not":
            parts.append(f"not({condition_expression(test)})")
        else:
            parts.append(_test_expression(key, test))
    return " and ".join(parts)


def _test_expression(key: str, test: Mapping[str, Any]) -> str:
    ((op, value),) = test.items()
    ref = f"${{{key}}}"
    if op == "equals":
        return f"{ref} = '{value}'"
    if op == "selected":
        return f"selected({ref}, '{value}')"
    if op == "in":
        either = " or ".join(f"{ref} = '{v}'" for v in value)
        return f"({either})" if len(value) > 1 else either
    if op == "not_in":
        return " and ".join(f"{ref} != '{v}'" for v in value)
    return f"{ref} {'>=' if op == 'min' else '<='} {value}"
