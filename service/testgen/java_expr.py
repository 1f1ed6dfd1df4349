"""Java expressions as EvoSuite writes them, in Python: literals (``null``, ``12L``,
``1.0F``, octal, ``Integer.MAX_VALUE``), operators (``&&``, ``||``, ``!``), casts
(``(double) x`` → ``float(x)``, array casts dropped), arrays (``new int[] {1, 2}`` →
``[1, 2]``, ``new int[3]`` → ``[0] * (3)``) and static calls of the method under test
(``Foo.bar(a)`` → ``bar(a)``). A token-level translation; nothing is compiled or run.
"""

from __future__ import annotations

import re

__all__ = ["JavaConversionError", "java_expr", "snake_case"]

_CONSTANTS = {"Integer.MAX_VALUE": "2147483647", "Integer.MIN_VALUE": "(-2147483648)",
              "Long.MAX_VALUE": "9223372036854775807", "Long.MIN_VALUE": "(-9223372036854775808)",
              "Double.NaN": "float('nan')", "Double.POSITIVE_INFINITY": "float('inf')",
              "Double.NEGATIVE_INFINITY": "float('-inf')", "Double.MAX_VALUE": "1.7976931348623157e308",
              "Double.MIN_VALUE": "5e-324"}
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|\d[\w.]*|[A-Za-z_$][\w$]*|&&|\|\||[!=<>]=|\S')
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|\d[\w.]*|[A-Za-z_$][\w$]*|&&|\|\||[!=<>]=|\S')


class JavaConversionError(ValueError):
    """A construct the converter does not handle (the message names it)."""


def snake_case(name: str) -> str:
    """``isEven`` → ``is_even``, ``toHTML`` → ``to_html``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def java_expr(java: str, fn: str, snake: bool) -> str:
    """A Java expression in Python (the constructs EvoSuite writes).

    Raises:
        JavaConversionError: an object is constructed (``new Foo()``).
    """
    java = java.strip()
    for name, value in _CONSTANTS.items():
        java = java.replace(name, value)
    tokens = _TOKEN.findall(java)
    out, index = _convert(tokens, 0, fn, snake)
    if index != len(tokens):
        raise JavaConversionError(f"unbalanced expression: {java[:60]}")
    return _join(out)


_WORDS = {"null": "None", "true": "True", "false": "False", "&&": "and", "||": "or", "!": "not"}
_CASTS = {"int": "int", "long": "int", "short": "int", "byte": "int", "double": "float", "float": "float",
          "char": "chr", "boolean": "bool", "String": "str"}
_DEFAULTS = {"boolean": "False", "String": "None", "char": "'\\x00'", "double": "0.0", "float": "0.0"}
_CLOSE = {"(": ")", "[": "]", "{": "}"}


def _convert(tokens: list[str], index: int, fn: str, snake: bool, close: str = "") -> tuple[list[str], int]:
    """Python tokens for ``tokens[index:]`` up to the bracket ``close`` (consumed)."""
    out: list[str] = []
    while index < len(tokens):
        tok = tokens[index]
        if tok == close:
            return out, index + 1
        if tok == "new":
            converted, index = _new(tokens, index + 1, fn, snake)
            out += converted
            continue
        if tok == "(" and _cast_at(tokens, index):
            index, kind = _cast_end(tokens, index)
            if kind is not None:  # (int) x → int(x); array casts are dropped
                end = _primary_end(tokens, index)
                out += [f"{kind}(", *_convert(tokens[index:end], 0, fn, snake)[0], ")"]
                index = end
            continue
        if tok in _CLOSE:
            inner, index = _convert(tokens, index + 1, fn, snake, _CLOSE[tok])
            out += [tok, *inner, _CLOSE[tok]]
            continue
        out.append(_word(tok, tokens, index, out, fn, snake))
        if out[-1] == "":
            out.pop()
        index += 1
    if close:
        raise JavaConversionError(f"missing {close!r}")
    return out, index


def _word(tok: str, tokens: list[str], index: int, out: list[str], fn: str, snake: bool) -> str:
    if tok[0].isdigit():
        tok = re.sub(r"(?<=[\d.])[LlFfDd]$", "", tok)
        return "0o" + tok[1:] if re.fullmatch(r"0[0-7]+", tok) else tok
    if tok in _WORDS:
        return _WORDS[tok]
    if tok == "." and index + 1 < len(tokens) and tokens[index + 1] == fn and out and out[-1][:1].isupper():
        out.pop()  # Foo.bar( → bar(
        return ""
    if tok == fn and snake:
        return snake_case(fn)
    return tok


def _cast_at(tokens: list[str], index: int) -> bool:
    """``(int) x``, ``(int[]) null``, ``(String) s`` at ``index``."""
    if index + 2 >= len(tokens) or (tokens[index + 1] not in _CASTS and not tokens[index + 1][:1].isupper()):
        return False
    end = index + 2
    while end + 1 < len(tokens) and tokens[end] == "[" and tokens[end + 1] == "]":
        end += 2
    return end < len(tokens) and tokens[end] == ")" and end + 1 < len(tokens) and \
        (tokens[index + 1] in _CASTS or end > index + 2)


def _primary_end(tokens: list[str], index: int) -> int:
    """Where the operand of a cast that starts at ``index`` ends (``Foo.bar(x)[0]``)."""
    if index < len(tokens) and tokens[index] == "-":
        index += 1
    index = _group_end(tokens, index) if index < len(tokens) and tokens[index] in _CLOSE else index + 1
    while index < len(tokens):
        if tokens[index] == "." and index + 1 < len(tokens):
            index += 2
        elif tokens[index] in ("(", "["):
            index = _group_end(tokens, index)
        else:
            break
    return index


def _group_end(tokens: list[str], index: int) -> int:
    depth = 0
    for end in range(index, len(tokens)):
        depth += tokens[end] in _CLOSE
        depth -= tokens[end] in _CLOSE.values()
        if depth == 0:
            return end + 1
    return len(tokens)


def _cast_end(tokens: list[str], index: int) -> tuple[int, str | None]:
    end = index + 2
    array = False
    while tokens[end] == "[":
        end += 2
        array = True
    return end + 1, None if array else _CASTS.get(tokens[index + 1])


def _new(tokens: list[str], index: int, fn: str, snake: bool) -> tuple[list[str], int]:
    """``new int[] {1, 2}`` → ``[1, 2]``; ``new int[n]`` → ``[0] * (n)``."""
    kind = tokens[index] if index < len(tokens) else ""
    index += 1
    while index < len(tokens) and tokens[index] == ".":
        kind, index = tokens[index + 1], index + 2
    if index >= len(tokens) or tokens[index] != "[":
        raise JavaConversionError(f"object construction: new {kind}")
    if index + 1 < len(tokens) and tokens[index + 1] == "]":
        index += 2
        while index + 1 < len(tokens) and tokens[index] == "[" and tokens[index + 1] == "]":
            index += 2
        if index >= len(tokens) or tokens[index] != "{":
            raise JavaConversionError("array without size or elements")
        inner, index = _convert(tokens, index + 1, fn, snake, "}")
        return ["[", *inner, "]"], index
    size, index = _convert(tokens, index + 1, fn, snake, "]")
    while index + 1 < len(tokens) and tokens[index] == "[" and tokens[index + 1] == "]":
        index += 2
    return ["[", _DEFAULTS.get(kind, "0"), "]", "*", "(", *size, ")"], index


def _join(tokens: list[str]) -> str:
    text = ""
    unary = False  # the last token was a unary minus: the next one sticks to it
    for tok in tokens:
        glue = not text or unary or text[-1] in "([{." or tok in ")]},.:" or (tok in "([" and text[-1].isalnum()) \
            or (tok == "(" and text[-1] in ")]") or (tok == "[" and text[-1] in ")]") or text.endswith("not ")
        unary = tok == "-" and (not text or text.rstrip()[-1:] in "([{,=" or text.endswith(("and", "or", "not ")))
        if tok == "not":
            tok = "not "
        text += tok if glue else " " + tok
    return text.replace(",", ", ").replace(",  ", ", ")
