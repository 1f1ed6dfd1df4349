"""RewardClient: the synchronous client of the service (threads for concurrent chunks)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from client import _batch, _testgen
from client._http import parse_response, translating
from client._options import IDEMPOTENCY_HEADER, Options, job_outcome
from client._pending import Answer, Polling, open_pending
from client._progress import StatusBar, open_progress
from client._retry import RetryPolicy
from client.errors import ClientError, ClientTimeout, RequestRejected
from client.models import (
    Item,
    JobCreated,
    JobStatus,
    Result,
    ServerLimits,
    TestgenItem,
    TestgenJobStatus,
    TestgenResponse,
    TestgenResult,
)

__all__ = ["RewardClient"]

M = TypeVar("M", bound=BaseModel)


class RewardClient:
    """Evaluate programs against their unit tests and get typed results back.

    >>> with RewardClient("http://127.0.0.1:8000") as client:
    ...     results = client.evaluate(items)

    Large batches are split to the server's batch limit and sent ``concurrency`` chunks at
    a time. 429 (honouring ``Retry-After``), 502, 503, 504 and lost connections are
    retried up to ``max_retries`` times with jittered exponential backoff, and so are the
    items that came back ``infra_error``; other 4xx answers raise at once. Results the
    server reports ``pending`` (still running when ``wait_s`` ran out) are polled from
    their job, never sent again. The client is thread-safe.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_batch: int | None = None,
        concurrency: int = 4,
        max_retries: int = 5,
        progress: bool = False,
        http: httpx.Client | None = None,
    ) -> None:
        """Args:
            base_url: the service, e.g. ``http://127.0.0.1:8000`` (default ``UTRS_URL``,
                else ``http://127.0.0.1:8000``).
            api_key: sent as ``Authorization: Bearer <key>`` (default ``UTRS_API_KEY``).
            timeout_s: HTTP timeout per request; the server is asked to answer sooner.
            max_batch: items per request; ``None``: the server's limit (or 4096).
            concurrency: requests in flight at once (connections follow it).
            max_retries: retries for 429/502/503/504/lost connections/``infra_error``.
            progress: show a tqdm progress bar (when tqdm is installed).
            http: a ready ``httpx.Client`` for the transport (tests, custom transports);
                requests still go to ``base_url`` with the key. The client closes it.
        """
        self._options = Options.build(
            base_url, api_key=api_key, timeout_s=timeout_s, max_batch=max_batch,
            concurrency=concurrency, progress=progress,
        )
        self._policy = RetryPolicy(max_retries=max_retries)
        self._http = http or httpx.Client(**self._options.httpx_kwargs())
        self._max_batch = max_batch
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self._options.base_url

    # --- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RewardClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- evaluate --------------------------------------------------------------------

    def evaluate(
        self, items: Sequence[Item | Mapping[str, Any]], *, wait_s: float | None = None
    ) -> list[Result]:
        """Judge ``items``; one ``Result`` per item, in input order.

        Results still ``infra_error`` after ``max_retries`` re-sends are returned as such:
        they carry no reward and must not be scored as 0.

        Raises:
            InvalidItem: an item does not match the wire model (nothing was sent).
            RequestRejected: the server refused the request as malformed (4xx).
            ServiceUnavailable: 429/502/503/504 after every retry.
            ServiceUnreachable: no connection after every retry.
            ClientTimeout: no answer (or a pending result not finished) within ``timeout_s``.
        """
        return list(self.iter_evaluate(items, wait_s=wait_s))

    def iter_evaluate(
        self, items: Sequence[Item | Mapping[str, Any]], *, wait_s: float | None = None
    ) -> Iterator[Result]:
        """Like :meth:`evaluate`, but yield the results in input order as soon as their
        chunk is judged (items are validated before anything is sent; the errors of
        :meth:`evaluate` are raised while iterating)."""
        wait_s = _batch.server_wait(self._options.timeout_s, wait_s)
        payloads = _batch.to_payloads(items)
        return self._stream(payloads, wait_s)

    def _stream(self, payloads: list[_batch.Payload], wait_s: float) -> Iterator[Result]:
        if not payloads:
            return
        bounds = _batch.chunk_bounds(len(payloads), self.max_batch())
        bar = StatusBar(open_progress(self._options.progress, len(payloads)))

        def one(chunk: list[_batch.Payload]) -> list[Result]:
            results = self._evaluate_chunk(chunk, wait_s)
            bar.add(results)
            return results

        workers = min(self._options.concurrency, len(bounds))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="utrs")
        try:
            futures = [pool.submit(one, payloads[a:b]) for a, b in bounds]
            for future in futures:
                yield from future.result()
        finally:
            # After a failure, chunks not yet sent are dropped rather than sent for nothing.
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()

    def _evaluate_chunk(self, payloads: list[_batch.Payload], wait_s: float) -> list[Result]:
        results: list[Result | None] = [None] * len(payloads)
        todo = list(range(len(payloads)))

        def send() -> list[int]:
            nonlocal todo
            again = self._post_evaluate([payloads[i] for i in todo], wait_s)
            _batch.merge(results, todo, again)
            todo = [todo[i] for i in _batch.unjudged(again)]
            return todo

        self._policy.resends()(send)
        return _batch.complete(results)

    def _post_evaluate(self, payloads: list[_batch.Payload], wait_s: float) -> list[Result]:
        body = _batch.request_body(payloads, wait_s)
        try:
            answer = self._request("POST", "/v1/evaluate", Answer, json=body, prepare=open_pending)
        except RequestRejected as exc:
            if exc.status_code != 413 or len(payloads) < 2:
                raise
            # Over the server's batch limit after all: halve, remember, go on.
            half = len(payloads) // 2
            with self._lock:
                self._max_batch = min(self._max_batch or half, half)
            return self._post_evaluate(payloads[:half], wait_s) + self._post_evaluate(
                payloads[half:], wait_s
            )
        _batch.check_count(answer.results, len(payloads), self._options.base_url)
        return self._finish_pending(answer)

    def _finish_pending(self, answer: Answer) -> list[Result]:
        """Poll the batch's job until every ``pending`` slot has its result."""
        polling = Polling(answer, timeout_s=self._options.timeout_s, url=self.base_url)
        while polling.slots:
            polling.check_time()
            time.sleep(self._options.poll_s)
            polling.update(self.status(polling.job_id))
        return polling.results()

    def max_batch(self) -> int:
        """The batch size used for chunks: the constructor's, else the server's limit."""
        with self._lock:
            if self._max_batch is None:
                self._max_batch = self._discover_max_batch()
            return self._max_batch

    def _discover_max_batch(self) -> int:
        try:
            limits = self._request("GET", self._options.limits_path, ServerLimits)
        except ClientError:
            return _batch.DEFAULT_MAX_BATCH
        return limits.max_batch

    # --- jobs ------------------------------------------------------------------------

    def submit(
        self, items: Sequence[Item | Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> str:
        """Queue ``items`` as one job and return its id (``POST /v1/jobs``).

        The request carries an ``Idempotency-Key`` (``idempotency_key``, else a fresh
        random one), the same on every retry, so a retried POST never makes two jobs.
        """
        body = _batch.request_body(_batch.to_payloads(items), None)
        key = idempotency_key or uuid.uuid4().hex
        headers = {IDEMPOTENCY_HEADER: key}
        return self._request("POST", "/v1/jobs", JobCreated, json=body, headers=headers).job_id

    def status(self, job_id: str) -> JobStatus:
        """Where a job stands (``GET /v1/jobs/{job_id}``); ``pending`` entries are ``None``."""
        return self._request("GET", f"/v1/jobs/{job_id}", JobStatus, prepare=open_pending)

    def wait(
        self, job_id: str, *, poll_s: float = 0.5, timeout_s: float | None = None
    ) -> list[Result]:
        """Poll until the job is done and return its results in input order.

        Raises:
            JobFailed: the job ended in state ``failed``.
            ClientTimeout: ``timeout_s`` passed first.
        """
        return list(self.iter_results(job_id, poll_s=poll_s, timeout_s=timeout_s))

    def iter_results(
        self, job_id: str, *, poll_s: float = 0.5, timeout_s: float | None = None
    ) -> Iterator[Result]:
        """Yield a job's results in input order as soon as the server reports them."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        sent = 0
        while True:
            state = self.status(job_id)
            fresh, finished = job_outcome(job_id, state, sent)
            yield from fresh
            sent += len(fresh)
            if finished:
                return
            if deadline is not None and time.monotonic() >= deadline:
                message = f"job {job_id} not done after {timeout_s} s"
                raise ClientTimeout(message, timeout_s=timeout_s)
            time.sleep(poll_s)

    # --- test generation -------------------------------------------------------------

    def testgen(
        self, items: Sequence[TestgenItem | Mapping[str, Any]], *, wait_s: float | None = None,
        batch: int = _testgen.DEFAULT_BATCH,
    ) -> list[TestgenResult]:
        """Generate unit tests for reference implementations (``POST /v1/testgen``, in
        requests of ``batch`` items); one result per item, in input order. ``ok``
        results' ``tests`` go unchanged into an :class:`Item`.

        ``pending`` results (still running when ``wait_s`` ran out) are polled from
        their job, never sent again; ``infra_error`` ones are sent again up to
        ``max_retries`` times, then returned as such (never a rejection).

        Raises:
            InvalidItem: an item does not match the wire model (nothing was sent).
            RequestRejected: the server refused the request (4xx; the detail names the field).
            ServiceUnavailable, ServiceUnreachable: after every retry.
            ClientTimeout: a pending result not finished within ``timeout_s``.
        """
        valid = _testgen.to_items(items)
        wait_s = _batch.server_wait(self._options.timeout_s, wait_s)
        out: list[TestgenResult] = []
        for start in range(0, len(valid), batch):
            out += self._testgen_chunk(valid[start : start + batch], wait_s)
        return out

    def _testgen_chunk(self, items: list[TestgenItem], wait_s: float) -> list[TestgenResult]:
        results: list[TestgenResult | None] = [None] * len(items)
        todo = list(range(len(items)))

        def send() -> list[int]:
            nonlocal todo
            again = self._post_testgen([items[i] for i in todo], wait_s)
            for index, result in zip(todo, again, strict=True):
                results[index] = result
            todo = [todo[i] for i in _testgen.unjudged(again)]
            return todo

        self._policy.resends()(send)
        return _testgen.complete(results, items)

    def _post_testgen(self, items: list[TestgenItem], wait_s: float) -> list[TestgenResult]:
        try:
            answer = self._request("POST", "/v1/testgen", TestgenResponse, json=_testgen.body(items, wait_s))
        except RequestRejected as exc:
            if exc.status_code != 413 or len(items) < 2:
                raise
            half = len(items) // 2
            return self._post_testgen(items[:half], wait_s) + self._post_testgen(items[half:], wait_s)
        results = _testgen.checked(answer, len(items), self.base_url)
        deadline = time.monotonic() + self._options.timeout_s
        while answer.job_id and _testgen.unfinished(results):
            if time.monotonic() >= deadline:
                raise ClientTimeout(f"testgen job {answer.job_id} not done after {self._options.timeout_s} s",
                                    timeout_s=self._options.timeout_s)
            time.sleep(self._options.poll_s)
            state = self._request("GET", f"/v1/jobs/{answer.job_id}", TestgenJobStatus)
            _testgen.fill(results, state, items)
        return _testgen.complete(results, items)

    # --- transport -------------------------------------------------------------------

    def _request(
        self, method: str, path: str, model: type[M], *, headers: Mapping[str, str] | None = None,
        prepare: Callable[[Any], Any] | None = None, **kwargs: Any,
    ) -> M:
        url = self._options.url(path)
        sent = {**self._options.headers(), **(headers or {})}
        for attempt in self._policy.requests():
            with attempt:
                with translating(url, self._options.timeout_s):
                    response = self._http.request(method, url, headers=sent, **kwargs)
                return parse_response(response, model, prepare=prepare)
        raise AssertionError("unreachable")  # pragma: no cover
