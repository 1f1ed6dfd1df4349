"""The test namespace of one session in the harness: which name comes from where.

In this order: the item's entry points (and the names the cases call that the program
defines) are the program's, as handles; the prompt and the setup run here; builtins and
modules are the harness's own (a program that defines ``abs`` does not change the test's
``abs``; one it imports is imported here, if it may be); any other name the tests use
that the program defines is a handle.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import sys
from typing import Any

from agent.handle import Handle, NoPlain, plain_of_handle
from agent.proxy import ProgramGone, Remote
from agent.suite import Suite

__all__ = ["plain_deep", "proxy_namespace"]

_SAFE_MODULES = frozenset({"numpy", "scipy", "sortedcontainers", "networkx"})


def plain_deep(value: Any, depth: int = 0) -> Any:
    """``value`` with every handle replaced by its object's plain form.

    Raises:
        TypeError: an object of the program has no plain form.
    """
    if depth > 100:
        raise ValueError("nested too deeply")
    cls = type(value)
    if cls is Handle:
        try:
            return plain_deep(plain_of_handle(value), depth + 1)
        except NoPlain as exc:
            raise TypeError(f"return value of type {exc.cls} is not JSON") from None
    if cls is list or cls is tuple:
        return cls(plain_deep(v, depth + 1) for v in value)
    if isinstance(value, dict):  # compared as JSON: every mapping as a plain dict
        return {plain_deep(k, depth + 1): plain_deep(v, depth + 1) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- namespaces
def _import_allowed(name: str) -> Any:
    """The harness's own module called ``name``: a top-level stdlib (or allowed) module,
    or a submodule already imported; None for anything else (importing an arbitrary
    submodule such as a package's ``__main__`` would run its code here)."""
    if name in sys.modules:
        module = sys.modules[name]
        parts = name.split(".")
        return module if all(p and not p.startswith("_") for p in parts) else None
    if "." in name or not name or name.startswith("_"):
        return None
    if name not in _SAFE_MODULES and name not in sys.stdlib_module_names:
        return None
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def proxy_namespace(suite: Suite, remote: Remote) -> dict[str, Any]:
    """The test namespace of one session: prompt and setup here, the program's names as
    handles (entry points override what the prompt defines).

    Raises:
        LoadFailed: the program did not load.
        BaseException: what the prompt's or the setup's execution raised (the setup can
            call the program, so this may be the program's exception), or ProgramGone.
    """
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    if suite.prompt is not None:
        with contextlib.suppress(Exception):  # its helpers are a convenience; X has them too
            exec(suite.prompt, ns)
    prompt_defines = {k for k in ns if not k.startswith("__")}
    wanted, entry, shadowing = suite.wanted_names(prompt_defines)
    found = remote.request("names", wanted)
    if type(found) is not dict:
        raise ProgramGone("the program's process answered the names request with junk")
    asked = set(wanted)
    defined = {n for n, spec in found.items() if n in asked and type(spec) is dict and not n.startswith("__")}
    if not (entry - suite.setup_defines) & defined - shadowing:
        entry = entry | (shadowing & defined)  # the function under test has a builtin's name
    for name in defined:
        if name in shadowing and name not in entry:
            continue
        if name in prompt_defines and name not in entry:
            continue
        ns[name] = _bind(name, found[name], remote, explicit=name in suite.entry_points)
    if suite.setup is not None:
        exec(suite.setup, ns)
    return ns


def _bind(name: str, spec: dict[str, Any], remote: Remote, *, explicit: bool) -> Any:
    """A name the program defines, as the tests see it. Unless the item names it as an
    entry point, a name that is a module the tests may import is the harness's own
    module, whatever object the program bound to it; a module the program imported
    under another name is imported here."""
    own = None if explicit else _import_allowed(name)
    if own is not None:
        return own
    if "mod" in spec:
        module = _import_allowed(str(spec["mod"]))
        if module is not None:
            return module
        return remote.decode(spec.get("h"))
    return remote.decode(spec.get("v"))
