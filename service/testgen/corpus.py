"""Reading a corpus into function instances: a directory of Python files, one Python
file, a JSONL of functions, or a Hugging Face dataset of code loaded from local files.

- directory / ``.py``: every file (sorted, ``__pycache__`` and dotted directories left
  out) through :func:`service.testgen.extract.extract`;
- ``.jsonl``: each row is either one function (``code`` + ``fn_name``, optional
  ``class_name``, ``description``, ``id``) or a module (``code`` or ``content``) whose
  functions are extracted;
- Hugging Face: a ``datasets.save_to_disk`` directory, or ``.parquet``/``.arrow`` files
  (``pip install datasets``); rows as for JSONL, the code in ``column`` (default: the
  first of ``content``, ``code``, ``whole_func_string``, ``func_code_string``).

Only text is read and parsed; nothing of the corpus runs on the host.
"""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from service.errors import InvalidField
from service.testgen.extract import Instance, constructible, extract, function_node, signature_of

__all__ = ["read_corpus"]

_CODE_COLUMNS = ("content", "code", "whole_func_string", "func_code_string")
_HF_FILES = (".parquet", ".arrow")


def read_corpus(path: Path, *, include_private: bool = False, column: str | None = None,
                split: str = "train") -> Iterator[Instance]:
    """The instances of the corpus at ``path``, in a stable order.

    Raises:
        InvalidField: ``corpus`` does not exist or is of no known kind.
        ImportError: a Hugging Face dataset and no ``datasets`` package.
    """
    if not path.exists():
        raise InvalidField("corpus", f"{path} does not exist")
    if path.is_dir() and not (path / "dataset_info.json").exists() and not (path / "dataset_dict.json").exists():
        for file in _python_files(path):
            text = file.read_text(encoding="utf-8", errors="replace")
            yield from extract(text, origin=str(file.relative_to(path)), include_private=include_private)
    elif path.suffix == ".py":
        yield from extract(path.read_text(encoding="utf-8", errors="replace"), origin=path.name,
                           include_private=include_private)
    elif path.suffix == ".jsonl":
        yield from _rows(_jsonl(path), path.stem, column, include_private)
    elif path.is_dir() or path.suffix in _HF_FILES:
        yield from _rows(_hf_rows(path, split), path.stem, column, include_private)
    else:
        raise InvalidField("corpus", f"{path}: not a directory, .py, .jsonl, .parquet/.arrow or a saved dataset")


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py")
                  if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts))


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidField(f"corpus line {number}", f"not JSON: {exc.msg}") from exc
            if isinstance(row, dict):
                yield row


def _hf_rows(path: Path, split: str) -> Iterator[dict[str, Any]]:
    try:
        datasets = importlib.import_module("datasets")  # optional, and ships no type stubs
    except ImportError as exc:
        raise ImportError("a Hugging Face dataset needs the datasets package: pip install datasets") from exc
    if path.is_dir():
        loaded: Any = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded[split]
    else:
        kind = "parquet" if path.suffix == ".parquet" else "arrow"
        loaded = datasets.load_dataset(kind, data_files=str(path), split="train")
    yield from loaded


def _rows(rows: Iterable[dict[str, Any]], stem: str, column: str | None,
          include_private: bool) -> Iterator[Instance]:
    for number, row in enumerate(rows):
        code = row.get(column) if column else next((row[c] for c in _CODE_COLUMNS if isinstance(row.get(c), str)), None)
        if not isinstance(code, str):
            continue
        origin = str(row.get("id") or row.get("path") or f"{stem}/{number}")
        if isinstance(row.get("fn_name"), str):
            instance = _function_row(row, code, origin)
            if instance is not None:
                yield instance
        else:
            yield from extract(code, origin=origin, include_private=include_private)


def _function_row(row: dict[str, Any], code: str, origin: str) -> Instance | None:
    """A row that names its function (``fn_name``, optional ``class_name``)."""
    fn_name, class_name = str(row["fn_name"]), row.get("class_name")
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    fn = function_node(tree, fn_name, class_name if isinstance(class_name, str) else None)
    if fn is None:
        return None
    owner = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if owner is not None and not constructible(owner):
        return None
    description = row.get("description") or row.get("docstring") or ast.get_docstring(fn) or ""
    signature = signature_of(fn, owner)
    doc = "\n".join(f"    {line}".rstrip() for line in str(description).splitlines())
    prompt = f'{signature}\n    """{doc.strip()}\n    """\n'
    return Instance(id=origin, fn_name=fn_name, class_name=owner.name if owner else None,
                    description=str(description), signature=signature, prompt=prompt, code=code, source=origin)
