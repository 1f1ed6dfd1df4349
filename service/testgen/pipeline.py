"""``testgen(items, pools, settings)``: reference implementations in, wire test suites out.

Per batch, three rounds of sandbox runs, each round one pool call for every item:

1. every candidate input through the reference (the pool's hash seed);
2. the inputs that returned, again, in reverse order under another hash seed and with
   line tracing, while the mutants of the reference run them in the main pool;
3. on the host: drop what differed between the runs, check the filters (≥ 2 tests,
   outputs not all equal), choose the suite (:mod:`.select`), write it (:mod:`.wire`).

Nothing of an item runs on the host; a reference that cannot be judged for want of a
sandbox is ``infra_error`` (retry), never a rejection.
"""

from __future__ import annotations

import ast
import logging
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from service.settings import Settings
from service.testgen.candidates import Candidate, plan_inputs
from service.testgen.examples import Seed
from service.testgen.extract import constructible, function_node, signature_of, statement_lines
from service.testgen.models import Reason, TestgenItem, TestgenResult, TestgenStatus
from service.testgen.mutants import SELECTION, Mutant, half, mutants_of
from service.testgen.options import TestgenOptions
from service.testgen.oracle import Failure, Outcome, Probe, Seen, literal_chars, output_key, probe_program, run_probes
from service.testgen.pools import OraclePools
from service.testgen.pynguin import InputBackend
from service.testgen.select import Evidence, choose
from service.testgen.wire import build_tests
from service.testgen.work import Work

__all__ = ["testgen"]

log = logging.getLogger(__name__)

def testgen(items: Sequence[TestgenItem], pools: OraclePools, settings: Settings,
            options: TestgenOptions | None = None, *, backend: InputBackend | None = None) -> list[TestgenResult]:
    """A result per item, in order (``settings``: the service's, for the sandbox limits
    the pools were started with; ``options``: test generation's own knobs; ``backend``:
    more seed inputs, e.g. :class:`~service.testgen.pynguin.PynguinBackend`)."""
    options = options or TestgenOptions()
    t0 = time.perf_counter()
    proposed = backend.propose(items) if backend is not None else [[] for _ in items]
    works = [_prepare(item, options, extra) for item, extra in zip(items, proposed, strict=True)]
    live = [w for w in works if w.result is None]
    _first_round(live, pools, options)
    log.info("testgen: %d references over %d inputs in %.1f s", len(live), sum(len(w.candidates) for w in live),
             time.perf_counter() - t0)
    for w in live:
        _after_first(w, options)
    live = [w for w in live if w.result is None]
    main_round = [p for w in live for p in ([w.traced] if w.traced else []) + w.mutants]
    with ThreadPoolExecutor(max_workers=2) as threads:
        second = threads.submit(run_probes, pools.reseeded, [w.second for w in live if w.second], options)
        traced = threads.submit(run_probes, pools.main, main_round, options)
        second.result()
        log.info("testgen: second run of %d references at %.1f s", len(live), time.perf_counter() - t0)
        traced.result()
        log.info("testgen: traced runs and %d mutants at %.1f s", sum(len(w.mutants) for w in live),
                 time.perf_counter() - t0)
    for w in live:
        _finish(w, options)
    elapsed = (time.perf_counter() - t0) * 1e3
    results = []
    for w in works:
        assert w.result is not None
        w.result.stats.elapsed_ms = round(elapsed, 1)
        results.append(w.result)
    return results


def _first_round(live: list[Work], pools: OraclePools, options: TestgenOptions) -> None:
    """Every candidate through the reference, in two rounds: the first ``first_round``
    inputs, then the rest, except for a reference that ran past the sandbox's own limit
    on ``max_hung`` inputs of the first (it defeats the call budget: the rest would cost
    the whole limit each)."""
    works = [w for w in live if w.first is not None]
    heads = [Probe(w.first.program, w.first.candidates[: options.first_round]) for w in works if w.first]
    run_probes(pools.main, heads, options)
    tails: list[tuple[Work, list[Outcome], Probe]] = []
    for w, head in zip(works, heads, strict=True):
        assert w.first is not None
        rest = w.first.candidates[options.first_round:]
        outcomes = head.outcomes
        if not isinstance(outcomes, list) or not rest:
            w.first.outcomes = outcomes
        elif sum(o.seen is Seen.HUNG for o in outcomes) >= options.max_hung:
            w.first.outcomes = outcomes + [Outcome(Seen.SKIPPED)] * len(rest)
        else:
            tails.append((w, outcomes, Probe(w.first.program, rest)))
    run_probes(pools.main, [tail for *_, tail in tails], options)
    for w, outcomes, tail in tails:
        assert w.first is not None
        w.first.outcomes = outcomes + tail.outcomes if isinstance(tail.outcomes, list) else tail.outcomes
    _rescue(works, pools, options)


def _rescue(works: list[Work], pools: OraclePools, options: TestgenOptions) -> None:
    """Run again, once, the inputs a probe skipped after ``max_over_budget`` inputs over
    budget, where those inputs have another shape (:func:`_shape`): the probe skips the
    larger inputs because time mostly grows with size, but a reference that loops forever
    on negative numbers runs past its budget on ``-7`` and would lose every input after it."""
    again: list[tuple[Work, list[int], Probe]] = []
    for w in works:
        outcomes = w.first.outcomes if w.first is not None else None
        if not isinstance(outcomes, list):
            continue
        slow = {_shape(w.candidates[i]) for i, o in enumerate(outcomes) if o.seen in (Seen.TIMEOUT, Seen.HUNG)}
        hung = sum(o.seen is Seen.HUNG for o in outcomes)
        skipped = [i for i, o in enumerate(outcomes) if o.seen is Seen.SKIPPED and _shape(w.candidates[i]) not in slow]
        if skipped and hung < options.max_hung and w.first is not None:
            again.append((w, skipped, Probe(w.first.program, [w.candidates[i] for i in skipped])))
    run_probes(pools.main, [probe for *_, probe in again], options)
    for w, skipped, probe in again:
        if isinstance(probe.outcomes, list) and w.first is not None and isinstance(w.first.outcomes, list):
            for i, outcome in zip(skipped, probe.outcomes, strict=True):
                w.first.outcomes[i] = outcome


def _shape(candidate: Candidate) -> tuple[str, ...]:
    """Each argument's type, with the sign of a number: what the rescue tells apart."""
    out = []
    for value in candidate.args:
        kind = type(value).__name__
        if type(value) in (int, float):
            kind += "-" if value < 0 else "0" if value == 0 else "+"
        out.append(kind)
    return tuple(out)


def _prepare(item: TestgenItem, options: TestgenOptions, proposed: list[Seed]) -> Work:
    w = Work(item)
    try:
        tree = ast.parse(item.code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        w.reject(Reason.UNPARSABLE, f"code: {exc}")
        return w
    fn = function_node(tree, item.fn_name, item.class_name)
    if fn is None:
        where = f"class {item.class_name}" if item.class_name else "the module's top level"
        w.reject(Reason.NO_FUNCTION, f"fn_name: no function {item.fn_name!r} in {where}")
        return w
    owner = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == item.class_name), None)
    w.signature = signature_of(fn, owner)
    if owner is not None and not constructible(owner):
        w.reject(Reason.NEEDS_CONSTRUCTOR_ARGS, f"class_name: {item.class_name}() needs arguments")
        return w
    w.description = item.description if item.description is not None else ast.get_docstring(fn) or ""
    w.body_lines = statement_lines(fn)
    plan = plan_inputs(fn, w.description, item.inputs, method=owner is not None, options=options, name=item.id,
                       proposed=proposed)
    w.stats.seeds, w.stats.candidates = plan.seeds, len(plan.candidates)
    if not plan.candidates:
        unknown = [p.name for p in plan.params if not p.type.known()]
        w.reject(Reason.NO_INPUTS, f"no seed inputs, and no type known for {', '.join(unknown) or 'the parameters'}")
        return w
    w.candidates = plan.candidates
    program = probe_program(item.code, item.fn_name, item.class_name, trace=False, budget_s=options.call_budget_s,
                            max_over=options.max_over_budget)
    w.first = Probe(program, plan.candidates)  # its program runs the second run too
    return w


def _outcomes(w: Work, probe: Probe | None) -> list[Outcome] | None:
    """The probe's outcomes; None (and the item's result set) when the run failed."""
    outcomes = probe.outcomes if probe is not None else None
    if isinstance(outcomes, list):
        return outcomes
    w.fail(outcomes or Failure("infra", "not run"))
    return None


def _after_first(w: Work, options: TestgenOptions) -> None:
    outcomes = _outcomes(w, w.first)
    if outcomes is None or w.first is None:
        return
    w.first_seen = outcomes
    s = w.stats
    for index, outcome in enumerate(outcomes):
        if outcome.seen in (Seen.RETURNED, Seen.ITERATED):
            s.returned += 1
            if literal_chars(outcome) > options.max_value_chars:
                s.oversized += 1
                continue
            w.kept.append(index)
        elif outcome.seen is Seen.RAISED:
            s.raised += 1
            if options.keep_raises and _described(outcome, w.description):
                s.raises_kept += 1
                w.kept.append(index)
        elif outcome.seen in (Seen.TIMEOUT, Seen.HUNG):
            s.timeouts += 1
        elif outcome.seen is Seen.SKIPPED:
            s.skipped += 1
        else:
            s.crashed += 1
    if len(w.kept) < 2:
        w.reject(Reason.TOO_FEW_TESTS, f"{len(w.kept)} of {len(w.candidates)} inputs gave a usable outcome")
        return
    item = w.item
    kept = [w.candidates[i] for i in w.kept]
    w.second = Probe(w.first.program, kept[::-1])
    if options.coverage:
        w.traced_kept = w.to_trace(options.traced_inputs)
        factor = options.trace_factor
        program = probe_program(item.code, item.fn_name, item.class_name, trace=True,
                                budget_s=options.call_budget_s * factor, max_over=options.max_over_budget)
        w.traced = Probe(program, [w.candidates[i] for i in w.traced_kept], timeout_s=options.timeout_s * factor)
    usual = mutants_of(item.code, item.fn_name, item.class_name)
    chosen = _spread([m for m in usual if half(m) == 0 and not m.compared]
                     + mutants_of(item.code, item.fn_name, item.class_name, family=SELECTION), options.mutants)
    w.mutants = [Probe(probe_program(m.source, item.fn_name, item.class_name, trace=False,
                                     budget_s=options.call_budget_s, max_over=1, stop_on_budget=True),
                       kept, stop_on_first=True) for m in chosen]
    s.mutants = len(w.mutants)


def _finish(w: Work, options: TestgenOptions) -> None:
    again = _outcomes(w, w.second)
    if again is None:
        return
    again = again[::-1]
    s = w.stats
    steady = [(i, a) for i, a in zip(w.kept, again, strict=True) if w.first_seen[i].same_as(a)]
    s.nondeterministic = len(w.kept) - len(steady)
    if len(steady) < 2:
        w.reject(Reason.NONDETERMINISTIC, f"{s.nondeterministic} of {len(w.kept)} outputs changed with the hash seed")
        return
    outputs = {output_key(w.first_seen[i]) for i, _ in steady}
    s.distinct_outputs = len(outputs)
    if len(outputs) < 2:
        w.reject(Reason.CONSTANT_OUTPUT, f"every one of {len(steady)} inputs gave {next(iter(outputs))[:200]}")
        return
    lines = w.lines()
    evidence = [Evidence(i, output_key(w.first_seen[i]), lines.get(i, frozenset()), w.kills(i),
                         sum(map(len, w.candidates[i].literals()))) for i, _ in steady]
    n_tests = w.item.n_tests or options.n_tests
    picked, core = choose(evidence, n_tests, most=n_tests if w.item.n_tests else options.max_tests,
                          detect=options.detect, pinned=[i for i, _ in steady if w.candidates[i].origin == "input"])
    chosen = [(w.candidates[i], w.first_seen[i]) for i in picked]
    tests = build_tests(w.item.fn_name, w.item.class_name, chosen, options.prefer)
    s.tests = len(picked)
    s.lines_total = len(w.body_lines)
    s.lines_covered = len(frozenset().union(*(e.lines for e in evidence if e.index in picked)))
    s.mutants_killed = len(frozenset().union(*(e.kills for e in evidence if e.index in picked)))
    detail = f"{core} tests chosen by coverage and mutants, {len(picked) - core} for new outputs"
    w.result = TestgenResult(id=w.item.id, status=TestgenStatus.OK, tests=tests, stats=s, signature=w.signature,
                             detail=detail)


def _spread(mutants: list[Mutant], count: int) -> list[Mutant]:
    """At most ``count`` mutants, taken evenly over the function (not only its first lines)."""
    if len(mutants) <= count:
        return mutants
    return [mutants[i * len(mutants) // count] for i in range(count)]


def _described(outcome: Outcome, description: str) -> bool:
    """A "raises" test is kept when the description names the (builtin) exception."""
    name = outcome.exc_type
    return "." not in name and re.search(rf"\b{re.escape(name)}\b", description) is not None
