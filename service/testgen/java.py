"""EvoSuite-style JUnit tests and Java signatures to Python (PanguCoder-RL §3.3, step 5,
its Figure 7), for a Java corpus with EvoSuite's output.

Each ``@Test`` method becomes one assert case: declarations become assignments, arrays
lists (``new int[] {1, 2}`` → ``[1, 2]``, ``new int[3]`` → ``[0] * 3``), static calls
``Foo.bar(a)`` calls of ``bar`` (snake_case with ``snake=True``), ``null``/``true``/``false``
``None``/``True``/``False``, and the JUnit assertions Python ``assert`` statements
(``assertEquals(e, a)``, with a delta for doubles; ``assertArrayEquals``, ``assertTrue``,
``assertFalse``, ``assertNull``, ``assertNotNull``). EvoSuite's ``try { call; fail(...) }
catch (X e) {...}`` becomes a "raises" case with X mapped to the Python exception the
converted code would raise (:data:`EXCEPTIONS`). :func:`convert_signature` turns
``public static int bar(int[] a, int b)`` into ``def bar(a: list[int], b: int) -> int:``.
Pure text transformation; nothing is compiled or run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from client.models import Case, TestKind, Tests

__all__ = ["EXCEPTIONS", "JavaConversionError", "JavaTests", "convert_signature", "convert_tests", "snake_case"]

EXCEPTIONS = {
    "NullPointerException": "(TypeError, AttributeError)", "ArrayIndexOutOfBoundsException": "IndexError",
    "StringIndexOutOfBoundsException": "IndexError", "IndexOutOfBoundsException": "IndexError",
    "ArithmeticException": "ZeroDivisionError", "IllegalArgumentException": "ValueError",
    "NumberFormatException": "ValueError", "ClassCastException": "TypeError",
    "NegativeArraySizeException": "ValueError",
    "IllegalStateException": "RuntimeError", "UnsupportedOperationException": "NotImplementedError",
    "StackOverflowError": "RecursionError",
}
_TYPES = {"int": "int", "long": "int", "short": "int", "byte": "int", "Integer": "int", "Long": "int",
          "double": "float", "float": "float", "Double": "float", "Float": "float", "boolean": "bool",
          "Boolean": "bool", "char": "str", "Character": "str", "String": "str", "void": "None", "Object": "object"}
_CONSTANTS = {"Integer.MAX_VALUE": "2147483647", "Integer.MIN_VALUE": "(-2147483648)",
              "Long.MAX_VALUE": "9223372036854775807", "Long.MIN_VALUE": "(-9223372036854775808)",
              "Double.NaN": "float('nan')", "Double.POSITIVE_INFINITY": "float('inf')",
              "Double.NEGATIVE_INFINITY": "float('-inf')", "Double.MAX_VALUE": "1.7976931348623157e308",
              "Double.MIN_VALUE": "5e-324"}
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|\d[\w.]*|[A-Za-z_$][\w$]*|&&|\|\||[!=<>]=|\S')
_CAST = re.compile(r"^\((int|long|short|byte|double|float|char|boolean|String)\)$")
_DECL = re.compile(r"^(?:final\s+)?[\w.$]+(?:<[^=]*>)?(?:\s*\[\s*\])*\s+([A-Za-z_$][\w$]*)\s*(=\s*(.*))?$", re.S)
_TEST = re.compile(r"@Test\b[^\n]*\s+public\s+void\s+(\w+)\s*\(\s*\)[^{]*\{")
_SIG = re.compile(r"^\s*(?:(?:public|private|protected|static|final|synchronized)\s+)*([\w.<>\[\], ]+?)\s+(\w+)\s*"
                  r"\(([^)]*)\)")


class JavaConversionError(ValueError):
    """A construct the converter does not handle (the message names it)."""


@dataclass(frozen=True)
class JavaTests:
    tests: Tests
    skipped: list[str]  # test methods that could not be converted (with why)


def snake_case(name: str) -> str:
    """``isEven`` → ``is_even``, ``toHTML`` → ``to_html``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def convert_signature(java: str, *, snake: bool = False) -> str:
    """A Java method declaration as a Python ``def`` line.

    Raises:
        JavaConversionError: not a method declaration.
    """
    match = _SIG.match(java)
    if match is None:
        raise JavaConversionError(f"not a Java method declaration: {java[:80]!r}")
    returns, name, params = match.groups()
    args = []
    for param in filter(None, (p.strip() for p in _split_top(params))):
        *kind, pname = param.replace("final ", "").split()
        args.append(f"{pname}: {_py_type(' '.join(kind))}")
    return f"def {snake_case(name) if snake else name}({', '.join(args)}) -> {_py_type(returns)}:"


def _py_type(java: str) -> str:
    java = java.strip()
    if java.endswith("[]"):
        return f"list[{_py_type(java[:-2])}]"
    generic = re.match(r"^([\w.]+)\s*<(.*)>$", java)
    if generic:
        outer, inner = generic.group(1).split(".")[-1], [_py_type(t) for t in _split_top(generic.group(2))]
        if outer in ("Map", "HashMap", "TreeMap", "LinkedHashMap") and len(inner) == 2:
            return f"dict[{inner[0]}, {inner[1]}]"
        if outer in ("Set", "HashSet", "TreeSet"):
            return f"set[{inner[0]}]"
        return f"list[{inner[0]}]"
    return _TYPES.get(java, "object")


def convert_tests(java: str, fn_name: str, *, snake: bool = False) -> JavaTests:
    """The ``@Test`` methods of an EvoSuite test class as a wire assert suite of the Python
    function ``fn_name`` (the Java method's name; ``snake`` converts it)."""
    cases, skipped = [], []
    java = _without_comments(java)
    for match in _TEST.finditer(java):
        body = _block(java, match.end() - 1)
        try:
            lines = _statements(body, fn_name, snake, indent="")
        except JavaConversionError as exc:
            skipped.append(f"{match.group(1)}: {exc}")
            continue
        if any(line.lstrip().startswith(("assert", "raise", "try")) for line in lines):
            cases.append(Case(code="\n".join(lines) + "\n"))
        else:
            skipped.append(f"{match.group(1)}: no assertion")
    return JavaTests(Tests(kind=TestKind.ASSERT, cases=cases), skipped)


def _without_comments(text: str) -> str:
    """The source without ``//`` and ``/* */`` comments (string literals kept)."""
    pattern = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//[^\n]*|/\*.*?\*/', re.S)
    return pattern.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else " ", text)


def _block(text: str, start: int) -> str:
    """The text inside the braces that open at ``text[start]``."""
    depth, index, quote = 0, start, ""
    while index < len(text):
        ch = text[index]
        if quote:
            index += 2 if ch == "\\" else 1
            quote = "" if ch == quote else quote
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1: index]
        index += 1
    raise JavaConversionError("unbalanced braces")


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, current, quote = [], 0, [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote and (not current or current[-1] != "\\") else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _statements(body: str, fn: str, snake: bool, indent: str) -> list[str]:
    out: list[str] = []
    rest = body.strip()
    while rest:
        if rest.startswith("try") and rest[3:].lstrip().startswith("{"):
            rest = _try(rest, fn, snake, indent, out)
            continue
        statement, rest = _next_statement(rest)
        line = _statement(statement.strip(), fn, snake)
        if line:
            out.append(indent + line)
    return out


def _next_statement(text: str) -> tuple[str, str]:
    depth, quote = 0, ""
    for index, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[index - 1] != "\\" else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == ";" and depth == 0:
            return text[:index], text[index + 1:].lstrip()
    return text, ""


def _try(text: str, fn: str, snake: bool, indent: str, out: list[str]) -> str:
    start = text.index("{")
    body = _block(text, start)
    rest = text[start + len(body) + 2:].lstrip()
    caught = re.match(r"catch\s*\(\s*([\w.|\s]+?)\s+\w+\s*\)\s*\{", rest)
    if caught is None:
        raise JavaConversionError("try without catch")
    handler = _block(rest, caught.end() - 1)
    rest = rest[caught.end() + len(handler) + 1:].lstrip()
    names = [n.strip().split(".")[-1] for n in caught.group(1).split("|")]
    python = ", ".join(EXCEPTIONS.get(n, "Exception") for n in names)
    inner = _statements(body, fn, snake, indent + "    ")
    expecting = [line for line in inner if line.strip().startswith("raise AssertionError")]
    inner = [line for line in inner if line not in expecting] or [indent + "    pass"]
    out += [f"{indent}try:", *inner, f"{indent}except ({python}):", f"{indent}    pass"]
    if expecting:
        out += [f"{indent}else:", f"{indent}    " + expecting[0].strip()]
    return rest


def _statement(statement: str, fn: str, snake: bool) -> str:
    if not statement or statement.startswith(("verifyException", "//")):
        return ""
    call = re.match(r"^(assert\w+|fail)\s*\((.*)\)$", statement, re.S)
    if call:
        return _assertion(call.group(1), [_expr(a, fn, snake) for a in _split_top(call.group(2))])
    decl = _DECL.match(statement)
    if decl and not statement.startswith(("return", "new ")) and "(" not in statement.split("=")[0]:
        return f"{decl.group(1)} = {_expr(decl.group(3), fn, snake)}" if decl.group(2) else ""
    return _expr(statement, fn, snake)


def _assertion(name: str, args: list[str]) -> str:
    simple = {"assertTrue": "assert {0}", "assertFalse": "assert not ({0})", "assertNull": "assert {0} is None",
              "assertNotNull": "assert {0} is not None", "fail": "raise AssertionError({0})"}
    if name in simple and len(args) >= 1:
        return simple[name].format(args[-1] if name != "fail" else args[0])
    if name in ("assertEquals", "assertSame", "assertArrayEquals") and len(args) == 2:
        return f"assert list({args[1]}) == {args[0]}" if name == "assertArrayEquals" else \
            f"assert {args[1]} == {args[0]}"
    if name in ("assertEquals", "assertArrayEquals") and len(args) == 3:
        return f"assert all(abs(a - b) <= {args[2]} for a, b in zip({args[1]}, {args[0]}))" \
            if name == "assertArrayEquals" else f"assert abs({args[1]} - {args[0]}) <= {args[2]}"
    if name in ("assertNotEquals", "assertNotSame") and len(args) == 2:
        return f"assert {args[1]} != {args[0]}"
    raise JavaConversionError(f"{name} with {len(args)} arguments")


def _expr(java: str, fn: str, snake: bool) -> str:
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
    for tok in tokens:
        glue = not text or text[-1] in "([{." or tok in ")]},.:" or (tok in "([" and text[-1].isalnum()) \
            or (tok == "(" and text[-1] in ")]") or (tok == "[" and text[-1] in ")]") or text.endswith("not ")
        if tok == "not":
            tok = "not "
        text += tok if glue else " " + tok
    return text.replace(",", ", ").replace(",  ", ", ")
