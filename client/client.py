"""RewardClient: the synchronous client of the service (threads for concurrent chunks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from client import _batch
from client._batch import PENDING_POLL_S
from client._http import RetryPolicy, parse_response, retry_after_of, retryable, translating
from client._options import Options, job_outcome
from client._progress import Progress, open_progress
from client.errors import ClientError, ClientTimeout, RequestRejected
from client.models import EvaluateResponse, Item, JobCreated, JobStatus, Result, ServerLimits, Status

__all__ = ["RewardClient"]

M = TypeVar("M", bound=BaseModel)


class RewardClient:
    """Evaluate programs against their unit tests and get typed results back.

    >>> with RewardClient("http://127.0.0.1:8000") as client:
    ...     results = client.evaluate(items)

    Large batches are split to the server's batch limit and sent ``concurrency`` chunks at
    a time. 429 (honouring ``Retry-After``), 503, lost connections and ``infra_error``
    results are retried up to ``max_retries`` times with jittered exponential backoff;
    4xx answers raise at once. The client is thread-safe.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
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
            base_url: the service, e.g. ``http://127.0.0.1:8000``.
            api_key: sent as ``Authorization: Bearer <key>``.
            timeout_s: HTTP timeout per request; the server is asked to answer sooner.
            max_batch: items per request; ``None``: the server's limit (or 4096).
            concurrency: requests in flight at once.
            max_retries: retries for 429/503/lost connections/``infra_error`` items.
            progress: show a tqdm progress bar (when tqdm is installed).
            http: a ready ``httpx.Client`` to use as is (tests, custom transports);
                the client closes it.
        """
        self._options = Options.build(
            base_url, api_key=api_key, timeout_s=timeout_s, max_batch=max_batch,
            concurrency=concurrency, progress=progress,
        )
        self._policy = RetryPolicy(max_retries=max_retries)
        self._http = http or httpx.Client(**self._options.httpx_kwargs())
        self._max_batch = max_batch
        self._lock = threading.Lock()

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
            ServiceUnavailable: 429/503 after every retry.
            ServiceUnreachable: no connection after every retry.
            ClientTimeout: no answer within ``timeout_s``.
        """
        wait_s = _batch.server_wait(self._options.timeout_s, wait_s)
        payloads = _batch.to_payloads(items)
        if not payloads:
            return []
        bounds = _batch.chunk_bounds(len(payloads), self.max_batch())
        bar = open_progress(self._options.progress, len(payloads))
        try:
            parts = self._run_chunks([payloads[a:b] for a, b in bounds], wait_s, bar)
        finally:
            bar.close()
        return [result for part in parts for result in part]

    def _run_chunks(
        self, chunks: list[list[_batch.Payload]], wait_s: float | None, bar: Progress
    ) -> list[list[Result]]:
        def one(chunk: list[_batch.Payload]) -> list[Result]:
            results = self._evaluate_chunk(chunk, wait_s)
            bar.update(len(chunk))
            return results

        if len(chunks) == 1:
            return [one(chunks[0])]
        workers = min(self._options.concurrency, len(chunks))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="utrs")
        try:
            return list(pool.map(one, chunks))
        finally:
            # After a failure, chunks not yet sent are dropped rather than sent for nothing.
            pool.shutdown(wait=True, cancel_futures=True)

    def _evaluate_chunk(self, payloads: list[_batch.Payload], wait_s: float | None) -> list[Result]:
        results = self._post_evaluate(payloads, wait_s)
        for attempt in range(self._policy.max_retries):
            todo = _batch.unjudged(results)
            if not todo:
                break
            time.sleep(self._policy.delay(attempt))
            again = self._post_evaluate([payloads[i] for i in todo], wait_s)
            _batch.merge(results, todo, again)
        return results

    def _post_evaluate(self, payloads: list[_batch.Payload], wait_s: float | None) -> list[Result]:
        body = _batch.request_body(payloads, wait_s)
        try:
            answer = self._request("POST", "/v1/evaluate", EvaluateResponse, json=body)
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

    def _finish_pending(self, answer: EvaluateResponse) -> list[Result]:
        """Results still ``pending`` (the server's ``wait_s`` ran out) are finished by
        polling the batch's ``job_id``, never by sending them again; those still pending
        after the client's ``timeout_s`` are returned as such (not scored)."""
        results = list(answer.results)
        todo = [i for i, r in enumerate(results) if r.status is Status.PENDING]
        deadline = time.monotonic() + self._options.timeout_s
        while todo and answer.job_id is not None and time.monotonic() < deadline:
            time.sleep(PENDING_POLL_S)
            state = self.status(answer.job_id)
            todo = _batch.take_finished(results, todo, state)
        return results

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

    def submit(self, items: Sequence[Item | Mapping[str, Any]]) -> str:
        """Queue ``items`` as one job and return its id (``POST /v1/jobs``)."""
        body = _batch.request_body(_batch.to_payloads(items), None)
        return self._request("POST", "/v1/jobs", JobCreated, json=body).job_id

    def status(self, job_id: str) -> JobStatus:
        """Where a job stands (``GET /v1/jobs/{job_id}``)."""
        return self._request("GET", f"/v1/jobs/{job_id}", JobStatus)

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

    # --- transport -------------------------------------------------------------------

    def _request(self, method: str, path: str, model: type[M], **kwargs: Any) -> M:
        for attempt in range(self._policy.max_retries + 1):
            try:
                with translating(self._options.base_url + path, self._options.timeout_s):
                    response = self._http.request(method, path, **kwargs)
                return parse_response(response, model)
            except ClientError as exc:
                if not retryable(exc) or attempt == self._policy.max_retries:
                    raise
                time.sleep(self._policy.delay(attempt, retry_after_of(exc)))
        raise AssertionError("unreachable")  # pragma: no cover
