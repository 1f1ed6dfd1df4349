"""Sandbox agent: runs untrusted programs, one fresh child per run, and reports facts.

Runs inside the sandbox container (stdlib only). Protocol: one JSON object per line on
stdin (requests) and stdout (responses), processed in order.

    {"op": "ping"}                     -> {"op": "pong", "version": ..., "pid": ...}
    {"op": "run", "rid": ..., ...}     -> {"rid": ..., "tests": [...], "runs": n}

Process tree of one run (P = this agent, trusted; everything below it is not):

    P ── L (loader: new session, rlimits; compiles the program, and for assert/call
            tests executes it and the setup once)
          └─ C_i (one per test case, forked from the loaded L, so each case sees a
                  pristine copy of the loaded state; the last case runs in L itself)

L and each C_i report over a private pipe ("loaded", "start", "result" events). P keeps
every deadline itself, judges outputs (never trusting the child's verdict on a
comparison), kills the whole session at the end and sweeps any process that escaped
it. A program that kills P only loses its own verdict: the worker notices the dead
agent and replaces the container.
"""

import builtins
import gc
import io
import json
import linecache
import math
import os
import resource
import select
import signal
import sys
import time
import traceback
import types

VERSION = "1"
ROOT = "/sandbox"
WORKDIR = ROOT + "/work"  # the program's cwd, HOME and TMPDIR
IODIR = ROOT + "/.io"  # stdin/stdout/stderr files of the run's phases
CHAN_FD = 1000
PRECOMPILE_CHARS = 256 * 1024  # programs up to this size are compiled by P itself
FORK_MARGIN_S = 0.1  # P's deadline for a case = its timeout + this (fork, wait, pipe)  # the child's end of the event pipe, out of the way of the program's fds
PREVIEW = 2048
TB_CHARS = 8192
_dumps = json.dumps  # bound before any program runs: a program can't swap it for L/C
_loads = json.loads


# --------------------------------------------------------------------------- helpers
def _qualname(cls):
    mod = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", None) or cls.__name__
    return name if mod == "builtins" else f"{mod}.{name}"


def _clip(text, limit):
    return text if len(text) <= limit else text[:limit] + "\n...[truncated]"


class Sources:
    """Names given to the texts of one run, so frames can be told apart."""

    def __init__(self, workdir, req):
        self.program = os.path.join(workdir, "main.py")
        self.setup = "<tests:setup>"
        self.cases = ["<tests:case %d>" % i for i in range(len(req.get("cases") or []))]

    def label(self, filename):
        if filename == self.program:
            return "program"
        if filename == self.setup:
            return "setup"
        if filename.startswith("<tests:case "):
            return "case"
        return "other"


def _register_source(filename, text):
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)


AGENT_FILE = __file__ if "__file__" in globals() else ""


def _trim(exc):
    """Drop the agent's own frames from the top of a traceback."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == AGENT_FILE:
        tb = tb.tb_next
    try:
        exc.__traceback__ = tb
    except (TypeError, AttributeError):
        pass


def _describe(exc, sources):
    """Structured facts about an exception: class, MRO, frames, SyntaxError fields."""
    _trim(exc)
    cls = type(exc)
    frames = []
    for fs in traceback.extract_tb(exc.__traceback__):
        frames.append(
            {
                "file": fs.filename,
                "src": sources.label(fs.filename),
                "function": fs.name,
                "line": fs.lineno,
                "end_line": getattr(fs, "end_lineno", None),
                "col": getattr(fs, "colno", None),
                "end_col": getattr(fs, "end_colno", None),
            }
        )
    info = {
        "type": _qualname(cls),
        "mro": [_qualname(c) for c in cls.__mro__ if c not in (object, BaseException)],
        "message": _clip(_safe_str(exc), 2000),
        "frames": frames,
        "traceback": _clip(_format_tb(exc), TB_CHARS),
    }
    if isinstance(exc, SyntaxError):
        info["syntax"] = {
            "file": exc.filename or "",
            "src": sources.label(exc.filename or ""),
            "line": exc.lineno,
            "col": exc.offset,
            "end_line": getattr(exc, "end_lineno", None),
            "end_col": getattr(exc, "end_offset", None),
            "msg": exc.msg,
        }
    if isinstance(exc, SystemExit):
        info["exit_code"] = _exit_code(exc)
    return info


def _safe_str(exc):
    try:
        return str(exc)
    except BaseException:  # a program's exception may refuse to print itself
        return "<unprintable %s>" % type(exc).__name__


def _format_tb(exc):
    try:
        return "".join(traceback.format_exception(exc))
    except BaseException:
        return "%s: %s" % (_qualname(type(exc)), _safe_str(exc))


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, bool) or not isinstance(code, int):
        return 1  # sys.exit("msg") prints msg and exits 1, as Python does
    return code & 0xFF


def _json_value(value, depth=0):
    """The return value of a call test as plain JSON (tuples as lists); None if foreign.

    Built from the value's base types, never from its own methods, so an object that
    claims equality with everything stays what it is.
    """
    if depth > 100:
        raise ValueError("nested too deeply")
    if value is None or type(value) is bool:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        v = float.__float__(value)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [_json_value(v, depth + 1) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return [_json_value(v, depth + 1) for v in tuple.__iter__(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in dict.items(value):
            key = k if isinstance(k, str) else _dumps(_json_value(k, depth + 1))
            out[str.__str__(key)] = _json_value(v, depth + 1)
        return out
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return _json_value(item(), depth + 1)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__ == "numpy":
        return _json_value(tolist(), depth + 1)
    raise TypeError("return value of type %s is not JSON" % _qualname(type(value)))


# --------------------------------------------------------------- inside the child
class Child:
    """Code that runs in L and C (untrusted territory once the program is loaded)."""

    def __init__(self, req, workdir, iodir, sources):
        self.req = req
        self.kind = req["kind"]
        self.workdir = workdir
        self.iodir = iodir
        self.sources = sources
        self.module = None
        self.code = None
        self.pid = os.getpid()
        self._streams = None

    # -- plumbing
    def send(self, event):
        if os.getpid() != self.pid:
            os._exit(0)  # a process the program forked must not speak for it
        data = (_dumps(event) + "\n").encode()
        try:
            os.write(CHAN_FD, data)
        except OSError:
            os._exit(70)

    def point_fds(self, name, stdin_path=None):
        """Point fds 0/1/2 at this phase's files. Done by L before each case's fork, so
        the case's process allocates nothing for it (every page it writes is a copy)."""
        out = os.open(os.path.join(self.iodir, name + ".out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(os.path.join(self.iodir, name + ".err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        inp = os.open(stdin_path or os.devnull, os.O_RDONLY)
        for fd, target in ((inp, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)

    def streams(self):
        """sys.stdin/stdout/stderr over fds 0/1/2, as a new interpreter has them; made
        once per loader and reused by every case (recreated if the program closed one)."""
        if self._streams is None or any(s.closed for s in self._streams):
            self._streams = (
                io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8"),
                io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8"),
                io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                 errors="backslashreplace", line_buffering=True),
            )
        sys.stdin, sys.stdout, sys.stderr = self._streams
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = self._streams

    def prepare_case(self, index):
        """In L, before case ``index`` runs (forked or in L itself)."""
        self.flush()
        stdin_path = os.path.join(self.iodir, "%d.in" % index) if self.kind == "stdio" else None
        self.point_fds(str(index), stdin_path)
        self.streams()

    def flush(self):
        """Flush the program's streams; True if output hit the file-size limit."""
        over = False
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError as exc:
                over = over or exc.errno == 27  # EFBIG
            except BaseException:
                pass  # the program closed or replaced it
        return over

    def new_module(self):
        name = "__main__" if self.kind == "stdio" else "solution"
        module = types.ModuleType(name)
        module.__file__ = self.sources.program
        module.__builtins__ = builtins
        sys.modules[name] = module
        sys.argv = [self.sources.program]
        sys.path[0] = self.workdir
        return module

    # -- phases
    def load(self, compiled):
        """Compile (unless P did) and, for assert/call, run the program and setup once."""
        t0 = time.perf_counter()
        self.point_fds("load")
        self.streams()
        try:
            self.code, setup_code, self.case_codes = compiled or compile_all(self.req, self.sources)
            if self.kind != "stdio":
                self.module = self.new_module()
                self._exec_program()
                if setup_code is not None:
                    exec(setup_code, self.module.__dict__)
        except SystemExit as exc:
            if _exit_code(exc) != 0:
                self._report_load(t0, exc, status="crash")
                return False
        except BaseException as exc:
            self._report_load(t0, exc)
            return False
        over = self.flush()
        self.send({"ev": "loaded", "ok": True, "time_ms": (time.perf_counter() - t0) * 1e3,
                   "cpu_ms": time.process_time() * 1e3, "over": over})
        return True

    def _exec_program(self):
        exec(self.code, self.module.__dict__)

    def _report_load(self, t0, exc, status="error"):
        over = self.flush()
        self.send({"ev": "loaded", "ok": False, "status": status, "over": over,
                   "time_ms": (time.perf_counter() - t0) * 1e3, "error": _describe(exc, self.sources)})

    def run_case(self, index, exit=True):
        """Run one case in this process and report its result, then (by default) exit."""
        case = (self.req.get("cases") or [])[index]
        event = {"ev": "result", "case": index}
        c0 = time.process_time()
        t0 = time.perf_counter()
        try:
            if self.kind == "stdio":
                self.module = self.new_module()
                self._exec_program()
                self._join_threads()
            elif self.kind == "assert":
                exec(self.case_codes[index], self.module.__dict__)
            else:
                event["value"] = self._call(case)
            event["outcome"] = "ok"
        except SystemExit as exc:
            code = _exit_code(exc)
            if self.kind == "stdio" and code == 0:
                self._join_threads()
                event["outcome"] = "ok"
            else:
                event["outcome"] = "exit"
                event["error"] = _describe(exc, self.sources)
        except BaseException as exc:
            event["outcome"] = "raised"
            event["error"] = _describe(exc, self.sources)
        event["time_ms"] = (time.perf_counter() - t0) * 1e3
        event["cpu_ms"] = (time.process_time() - c0) * 1e3
        event["over"] = self.flush()
        try:
            _dumps(event)
        except (TypeError, ValueError) as exc:  # unserialisable return value
            event.pop("value", None)
            event["outcome"] = "raised"
            event["error"] = {"type": "TypeError", "mro": ["TypeError", "Exception"], "message": str(exc),
                              "frames": [], "traceback": "TypeError: %s\n" % exc}
        self.send(event)
        if exit:
            os._exit(0)

    def _call(self, case):
        fn_name = self.req["fn_name"]
        class_name = self.req.get("class_name")
        names = self.module.__dict__
        if (class_name or fn_name) not in names:
            raise NameError("name %r is not defined" % (class_name or fn_name), name=class_name or fn_name)
        target = names[class_name]() if class_name else self.module
        fn = getattr(target, fn_name)
        value = fn(*(case.get("args") or []), **(case.get("kwargs") or {}))
        return _json_value(value)

    def _join_threads(self):
        """Like interpreter shutdown: wait for the program's non-daemon threads."""
        threading = sys.modules.get("threading")  # not imported by the agent: forks stay cheap
        if threading is None:
            return
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()


def compile_all(req, sources):
    """Code objects of the program, the setup and (assert tests) each case."""
    program = compile(req["program"], sources.program, "exec", dont_inherit=True)
    setup = req.get("setup") or ""
    setup_code = compile(setup, sources.setup, "exec", dont_inherit=True) if setup else None
    cases = req.get("cases") or []
    case_codes = [
        compile(c.get("code") or "", sources.cases[i], "exec", dont_inherit=True) for i, c in enumerate(cases)
    ] if req["kind"] == "assert" else []
    return program, setup_code, case_codes


def _limit(req):
    timeout = float(req["timeout_s"])
    cpu = max(1, math.ceil(timeout))
    memory = int(req["memory_mb"]) * 1024 * 1024
    fsize = int(req["output_kb"]) * 1024 + 1
    procs = int(req.get("max_procs", 64))
    for res, value in (
        (resource.RLIMIT_CPU, (cpu, 2 * cpu + 2)),
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_NPROC, (procs, procs)),
        (resource.RLIMIT_CORE, (0, 0)),
    ):
        try:
            resource.setrlimit(res, value)
        except (ValueError, OSError):
            pass


def loader_main(req, workdir, iodir, sources, chan_w, start_case, compiled):
    """Body of L. Never returns."""
    try:
        os.setsid()
        os.dup2(chan_w, CHAN_FD)
        os.closerange(3, CHAN_FD)
        os.closerange(CHAN_FD + 1, 4096)
        os.chdir(workdir)
        _limit(req)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        child = Child(req, workdir, iodir, sources)
        if not child.load(compiled):
            os._exit(0)
        gc.freeze()  # the cases' forks then share the loaded objects without copying them
        n = len(req.get("cases") or [])
        shared = req["kind"] != "stdio" and not req.get("isolate_cases", True)
        for index in range(start_case, n):
            child.prepare_case(index)
            if index == n - 1:
                _fresh_cpu_budget(req)
                child.run_case(index)  # the last case needs no copy of the loaded state
            if shared:
                _case_in_loader(child, index, req)
            else:
                _case_in_child(child, index)
        os._exit(0)
    except BaseException:
        os._exit(71)


def _case_in_loader(child, index, req):
    """isolate_cases=false: the case runs in L itself, after the earlier ones."""
    _fresh_cpu_budget(req)
    cpu0 = time.process_time()
    child.run_case(index, exit=False)
    child.send({"ev": "ended", "case": index, "status": 0, "cpu_s": time.process_time() - cpu0})


def _case_in_child(child, index):
    try:
        pid = os.fork()
    except OSError as exc:
        child.send({"ev": "result", "case": index, "outcome": "raised", "time_ms": 0.0, "over": False,
                    "error": {"type": _qualname(type(exc)), "mro": [], "message": str(exc), "frames": [],
                              "traceback": str(exc)}})
        return
    if pid == 0:
        child.pid = os.getpid()
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        child.run_case(index)
    _, status, usage = os.wait4(pid, 0)
    try:
        os.killpg(pid, signal.SIGKILL)  # what the case left behind in its group
    except OSError:
        pass
    child.send({"ev": "ended", "case": index, "status": status, "cpu_s": usage.ru_utime + usage.ru_stime})


def _fresh_cpu_budget(req):
    """The last case runs in L: give it its own CPU budget on top of what loading used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = max(1, math.ceil(float(req["timeout_s"])))
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    want = math.ceil(usage.ru_utime + usage.ru_stime) + cpu
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (min(want, hard), hard))
    except (ValueError, OSError):
        pass


def _normal_exit(status):
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


# ------------------------------------------------------------------ the agent (P)
_UNSET = object()


class Run:
    """One program run as P sees it: spawn L, follow events, keep deadlines, judge."""

    def __init__(self, req):
        self.req = req
        self.kind = req["kind"]
        self.cases = req.get("cases") or []
        self.timeout = float(req["timeout_s"])  # CPU seconds
        self.wall = float(req.get("wall_s") or self.timeout)  # wall-clock backstop
        self.cap = int(req["output_kb"]) * 1024
        self.preview = int(req.get("preview_chars", PREVIEW))
        self.workdir = WORKDIR  # the same paths every run: emptied between runs
        self.iodir = IODIR
        self.tests = [None] * len(self.cases)
        self.stop = bool(req.get("stop_on_first_failure"))

    def execute(self):
        os.mkdir(self.workdir, 0o700)
        os.mkdir(self.iodir, 0o700)
        if self.kind == "stdio":
            for i, case in enumerate(self.cases):
                with open(os.path.join(self.iodir, "%d.in" % i), "w", encoding="utf-8", newline="") as fh:
                    fh.write(case.get("input") or "")
        self.sources = Sources(self.workdir, self.req)
        _register_source(self.sources.program, self.req["program"])
        self.compiled = None
        if len(self.req["program"]) <= PRECOMPILE_CHARS:
            # Compiling in the warm agent costs a tenth of compiling in a fresh fork, and
            # a program that does not compile needs no process at all. Large sources are
            # compiled under the loader's limits instead (compiling them can take GBs).
            try:
                self.compiled = compile_all(self.req, self.sources)
            except BaseException as exc:
                status = "memory" if isinstance(exc, MemoryError) else "error"
                self._fill_from(0, _test(status, 0.0, error=_describe(exc, self.sources)))
                return self.tests
        start = 0
        while start < len(self.cases):
            start = self._session(start)
        return self.tests

    def _spawn(self, start_case):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            loader_main(self.req, self.workdir, self.iodir, self.sources, w, start_case, self.compiled)
        os.close(w)
        return pid, r

    def _session(self, start):
        """Run cases from ``start`` in one loader; return the next case to run."""
        pid, r = self._spawn(start)
        self.lpid, self.lstatus = pid, _UNSET
        events = EventReader(r)
        try:
            return self._follow(events, start)
        finally:
            os.close(r)
            self._end_loader()
            sweep()

    def _end_loader(self):
        """Kill L's session if it is still alive; its wait status (None if unknown)."""
        if self.lstatus is _UNSET:
            self.lstatus = _reap(self.lpid)
        return self.lstatus

    def _follow(self, events, start):
        ev = events.next(time.monotonic() + self.wall + 1.0)
        if ev is None or ev.get("ev") != "loaded":
            self._fill_from(start, self._load_lost(events))
            return len(self.cases)
        if not ev["ok"]:
            self._fill_from(start, self._load_failure(ev))
            return len(self.cases)
        if ev.get("cpu_ms", 0.0) > self.timeout * 1e3:
            self._fill_from(start, self._cpu_timeout(ev["cpu_ms"], "load", ev.get("time_ms", 0.0)))
            return len(self.cases)
        current = start
        while current < len(self.cases):
            keep = self._await_result(events, current)
            if self.stop and self.tests[current]["status"] != "pass":
                self._skip_from(current + 1)
                return len(self.cases)
            if not keep:
                return current + 1
            current += 1
        return current

    def _await_result(self, events, index):
        """Follow case ``index``; True while the same loader can go on.

        The clock starts when the previous case ended (or loading did): the case's own
        time is measured by the child from the moment it starts; P's deadline adds a
        margin for the fork in between.
        """
        t0 = time.monotonic()
        ev = events.next(t0 + self.wall + FORK_MARGIN_S)
        elapsed = (time.monotonic() - t0) * 1e3
        if ev is None:
            self.tests[index] = self._lost(events, index, elapsed)
            return False
        if ev.get("case") != index:
            self.tests[index] = self._lost(events, index, elapsed)
            return False
        if ev.get("ev") == "ended":  # C ended without a result
            self.tests[index] = self._no_result(index, ev.get("status"), ev.get("cpu_s"), elapsed)
            return True
        if ev.get("ev") != "result":
            self.tests[index] = self._lost(events, index, elapsed)
            return False
        self.tests[index] = self._judge(index, ev)
        if index == len(self.cases) - 1:
            return True
        after = events.next(time.monotonic() + 2.0)
        if after is None or after.get("ev") != "ended":
            return False
        status = after.get("status")
        if status is not None and os.WIFSIGNALED(status) and self.tests[index]["status"] == "pass":
            self.tests[index] = self._death(status, after.get("cpu_s"), index)
        return True

    def _lost(self, events, index, elapsed_ms):
        """No result: the loader hung (a timeout) or ended (judge by its wait status)."""
        if not events.eof:
            return _test("timeout", self.wall * 1e3, *self._outputs(index), error=_synthetic(
                "Timeout", "exceeded the wall-clock limit of %gs" % self.wall))
        return self._no_result(index, self._end_loader(), None, elapsed_ms)

    def _no_result(self, index, wstatus, cpu_s, elapsed_ms):
        if wstatus is not None and _normal_exit(wstatus) and self.kind == "stdio":
            return self._judge(index, {"outcome": "ok", "time_ms": elapsed_ms})  # os._exit(0)
        return self._death(wstatus, cpu_s, index)

    # -- outcomes
    def _load_failure(self, ev):
        error = ev.get("error")
        status = ev.get("status", "error")
        if ev.get("over"):
            return _test("output_limit", ev.get("time_ms", 0.0), error=_synthetic("OutputLimit", self._over_msg()))
        if error and "MemoryError" in error.get("mro", []):
            status = "memory"
        return _test(status, ev.get("time_ms", 0.0), *self._outputs("load"), error=error)

    def _load_lost(self, events):
        if not events.eof:
            return _test("timeout", self.wall * 1e3, *self._outputs("load"), error=_synthetic(
                "Timeout", "loading the program exceeded the wall-clock limit of %gs" % self.wall))
        return self._death(self._end_loader(), None, "load")

    def _death(self, wstatus, cpu_s, name):
        out, err = self._outputs(name)
        if wstatus is None:
            return _test("crash", 0.0, out, err, error=_synthetic("Exit", "the program ended without a result"))
        if _normal_exit(wstatus):
            error = _synthetic("Exit", "exited with status 0 before the test finished")
            error["exit_code"] = 0
            return _test("crash", 0.0, out, err, error=error)
        if os.WIFSIGNALED(wstatus):
            sig = os.WTERMSIG(wstatus)
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s is not None and cpu_s >= math.ceil(self.timeout)):
                return _test("timeout", self.timeout * 1e3, out, err, error=_synthetic(
                    "Timeout", "exceeded the CPU time limit of %gs" % self.timeout))
            if sig == signal.SIGXFSZ or self._over(name):
                return _test("output_limit", 0.0, out, err, error=_synthetic("OutputLimit", self._over_msg()))
            if sig == signal.SIGKILL and _oom_killed():
                return _test("memory", 0.0, out, err, error=_synthetic("MemoryLimit", "killed by the memory limit"))
            error = _synthetic("Signal", "killed by %s" % _signame(sig))
            error["signal"] = sig
            return _test("crash", 0.0, out, err, error=error)
        code = os.WEXITSTATUS(wstatus)
        error = _synthetic("Exit", "exited with status %d without finishing the test" % code)
        error["exit_code"] = code
        return _test("crash", 0.0, out, err, error=error)

    def _judge(self, index, ev):
        out, err = self._outputs(index)
        time_ms = ev.get("time_ms", 0.0)
        if ev.get("over") or self._over(index):
            return _test("output_limit", time_ms, out, err, error=_synthetic("OutputLimit", self._over_msg()))
        if ev.get("cpu_ms", 0.0) > self.timeout * 1e3:
            return self._cpu_timeout(ev["cpu_ms"], index, time_ms)
        outcome = ev.get("outcome")
        error = ev.get("error")
        if outcome == "exit":
            return _test("crash", time_ms, out, err, error=error)
        if outcome == "raised":
            mro = error.get("mro", [])
            if "MemoryError" in mro:
                return _test("memory", time_ms, out, err, error=error)
            if self.kind == "assert" and "AssertionError" in mro and _raised_by_case(error):
                return _test("fail", time_ms, out, err, error=error)
            return _test("error", time_ms, out, err, error=error)
        case = self.cases[index]
        if self.kind == "assert":
            ok = True
        elif self.kind == "stdio":
            ok = compare_text(self._read(index, "out", self.cap), case.get("output") or "", self.req.get("compare", "tokens"))
        else:
            ok = compare_value(ev.get("value"), case.get("expected"), self.req.get("compare", "tokens"))
        return _test("pass" if ok else "fail", time_ms, out, err)

    def _cpu_timeout(self, cpu_ms, name, time_ms):
        return _test("timeout", time_ms, *self._outputs(name), error=_synthetic(
            "Timeout", "used %.2fs of CPU time, over the limit of %gs" % (cpu_ms / 1e3, self.timeout)))

    # -- files
    def _read(self, name, stream, limit):
        try:
            with open(os.path.join(self.iodir, "%s.%s" % (name, stream)), "rb") as fh:
                return fh.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""

    def _outputs(self, name):
        return self._read(name, "out", self.preview), self._read(name, "err", self.preview)

    def _over(self, name):
        for stream in ("out", "err"):
            try:
                if os.path.getsize(os.path.join(self.iodir, "%s.%s" % (name, stream))) > self.cap:
                    return True
            except OSError:
                pass
        return False

    def _over_msg(self):
        return "output exceeded %d KiB" % (self.cap // 1024)

    def _fill_from(self, start, result):
        for i in range(start, len(self.cases)):
            self.tests[i] = dict(result)

    def _skip_from(self, start):
        for i in range(start, len(self.cases)):
            self.tests[i] = _test("skipped", 0.0)


def _raised_by_case(error):
    frames = error.get("frames") or []
    return bool(frames) and frames[-1].get("src") in ("case", "setup")


def _test(status, time_ms, stdout="", stderr="", error=None):
    return {"status": status, "time_ms": round(time_ms, 3), "stdout": stdout, "stderr": stderr, "error": error}


def _synthetic(type_, message):
    return {"type": type_, "mro": [type_], "message": message, "frames": [], "traceback": ""}


def _signame(sig):
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "signal %d" % sig


_OOM_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
_oom_seen = [0]


def _oom_count():
    for path in _OOM_FILES:
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def _oom_killed():
    count = _oom_count()
    killed = count > _oom_seen[0]
    _oom_seen[0] = count
    return killed


class EventReader:
    """JSON-line events from a child over a pipe, with deadlines kept by P."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""
        self.eof = False
        self.limit = 64 * 1024 * 1024

    def next(self, deadline):
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                try:
                    ev = _loads(line)
                except ValueError:
                    continue  # not ours: ignore garbage a program wrote
                if isinstance(ev, dict):
                    return ev
                continue
            if self.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.eof = True
            elif len(self.buf) < self.limit:
                self.buf += chunk


def _kill_session(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _reap(pid):
    """Wait for L (after a kill it ends at once); its wait status, or None if gone."""
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == 0:
            _kill_session(pid)
            got, status = os.waitpid(pid, 0)
        return status
    except ChildProcessError:
        return None


def sweep():
    """Kill every process but init and the agent (what escaped a session), then reap."""
    me = os.getpid()
    for _ in range(50):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap_all()
        time.sleep(0.001)
    _reap_all()


def _reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _remove_tree(path):
    """rmtree without shutil (whose compression imports make every fork dearer)."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        entries = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def clean_root():
    for entry in os.scandir(ROOT):
        if entry.is_dir(follow_symlinks=False):
            try:
                os.chmod(entry.path, 0o700)  # a program may have locked its own directory
            except OSError:
                pass
            _remove_tree(entry.path)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass
    for shm in ("/dev/shm",):
        try:
            for name in os.listdir(shm):
                os.unlink(os.path.join(shm, name))
        except OSError:
            pass


# ------------------------------------------------------------------ comparisons
def _tokens_equal_float(a, b, tol=1e-6):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return False
    return abs(x - y) <= tol or abs(x - y) <= tol * max(abs(x), abs(y))


def compare_text(got, want, mode):
    """Judge a stdio program's stdout against the expected output."""
    if mode == "exact":
        return got == want
    if mode == "tokens":
        return got.split() == want.split()
    if mode == "float":
        g, w = got.split(), want.split()
        return len(g) == len(w) and all(_tokens_equal_float(a, b) for a, b in zip(g, w))
    return apps_compare_text(got, want)


def apps_compare_text(got, want):
    """The APPS testing_util cascade (lenient: token sets, 3-decimal rounding). Compat only."""
    out = got.splitlines()
    if out == [want] or out == want.split("\n") or [o.strip() for o in out] == want.split("\n"):
        return True
    want_lines = [x.strip() for x in want.split("\n") if x]
    out_lines = [x.strip() for x in out if x.strip()]
    if out_lines == want_lines or [o.strip() for o in out] == want_lines:
        return True
    if len(out_lines) == len(want_lines) and all(
            _tokens_equal_float(a, b, 1e-5) for a, b in zip(out_lines, want_lines)):
        return True
    want_set = set(frozenset(line.split()) for line in want_lines)
    got_set = set(frozenset(line.split()) for line in out_lines)
    if got_set == want_set:
        return True
    try:
        def rounded(lines):
            return set(frozenset(round(float(t), 3) for t in line.split()) for line in lines)
        return rounded(out_lines) == rounded(want_lines)
    except ValueError:
        return False


def compare_value(got, want, mode):
    """Judge a call test's JSON return value against the expected JSON value."""
    if mode == "apps":
        return _value_equal(got, want, False) or (
            isinstance(want, list) and len(want) > 0 and _value_equal(got, want[0], False))
    return _value_equal(got, want, mode == "float")


def _value_equal(a, b, tolerant):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if tolerant:
            return _tokens_equal_float(repr(float(a)), repr(float(b)))
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_value_equal(x, y, tolerant) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_value_equal(a[k], b[k], tolerant) for k in a)
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------ main loop
class Agent:
    def __init__(self):
        self.seq = 0
        self.out = os.fdopen(os.dup(1), "wb", buffering=0)

    def reply(self, obj):
        self.out.write((_dumps(obj) + "\n").encode())

    def handle(self, req):
        op = req.get("op")
        if op == "ping":
            return {"op": "pong", "rid": req.get("rid"), "version": VERSION, "pid": os.getpid(), "runs": self.seq,
                    "python": sys.version.split()[0]}
        if op != "run":
            return {"rid": req.get("rid"), "agent_error": "unknown op %r" % (op,)}
        self.seq += 1
        t0 = time.perf_counter()
        try:
            tests = Run(req).execute()
        except Exception as exc:  # an agent bug, reported as such, never as a verdict
            return {"rid": req.get("rid"), "agent_error": _format_tb(exc)}
        finally:
            sweep()
            clean_root()
            linecache.cache.clear()
        return {"rid": req.get("rid"), "tests": tests, "agent_ms": (time.perf_counter() - t0) * 1e3}

    def serve(self):
        stdin = os.fdopen(os.dup(0), "rb", buffering=0)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)  # the program's fds 0/1 must never reach the protocol stream
        os.dup2(devnull, 1)
        reader = io.BufferedReader(stdin, 1 << 20)
        _oom_killed()
        while True:
            line = reader.readline()
            if not line:
                return
            line = line.strip()
            if not line:
                continue
            try:
                req = _loads(line)
            except ValueError as exc:
                self.reply({"agent_error": "bad request: %s" % exc})
                continue
            self.reply(self.handle(req))


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.environ["TMPDIR"] = os.environ["HOME"] = WORKDIR
    gc.collect()
    gc.freeze()
    Agent().serve()


if __name__ == "__main__":
    main()
