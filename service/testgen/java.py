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
from service.testgen.java_expr import JavaConversionError, java_expr, snake_case
from service.testgen.scan import outside_quotes

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
_DECL = re.compile(r"^(?:final\s+)?[\w.$]+(?:<[^=]*>)?(?:\s*\[\s*\])*\s+([A-Za-z_$][\w$]*)\s*(=\s*(.*))?$", re.S)
_TEST = re.compile(r"@Test\b[^\n]*\s+public\s+void\s+(\w+)\s*\(\s*\)[^{]*\{")
_SIG = re.compile(r"^\s*(?:(?:public|private|protected|static|final|synchronized)\s+)*([\w.<>\[\], ]+?)\s+(\w+)\s*"
                  r"\(([^)]*)\)")


@dataclass(frozen=True)
class JavaTests:
    tests: Tests
    skipped: list[str]  # test methods that could not be converted (with why)


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
    parts, last = [], 0
    for index, ch, depth in outside_quotes(text, angles=True):
        if ch == sep and depth == 0:
            parts.append(text[last:index])
            last = index + 1
    return [*parts, text[last:]]


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
    for index, ch, depth in outside_quotes(text):
        if ch == ";" and depth == 0:
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
        return _assertion(call.group(1), [java_expr(a, fn, snake) for a in _split_top(call.group(2))])
    decl = _DECL.match(statement)
    if decl and not statement.startswith(("return", "new ")) and "(" not in statement.split("=")[0]:
        return f"{decl.group(1)} = {java_expr(decl.group(3), fn, snake)}" if decl.group(2) else ""
    return java_expr(statement, fn, snake)


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
