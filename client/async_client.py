"""AsyncRewardClient: the asyncio twin of ``RewardClient`` (same names, awaited)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
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

__all__ = ["AsyncRewardClient"]

M = TypeVar("M", bound=BaseModel)


class AsyncRewardClient:
    """Evaluate programs from asyncio code; see ``RewardClient`` for the behaviour.

    >>> async with AsyncRewardClient("http://127.0.0.1:8000") as client:
    ...     results = await client.evaluate(items)

    At most ``concurrency`` chunks are in flight at once, per call. A client belongs to
    the event loop it is first used in (httpx's connections do).
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
        http: httpx.AsyncClient | None = None,
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
            http: a ready ``httpx.AsyncClient`` for the transport (tests, custom
                transports); requests still go to ``base_url`` with the key. The client
                closes it.
        """
        self._options = Options.build(
            base_url, api_key=api_key, timeout_s=timeout_s, max_batch=max_batch,
            concurrency=concurrency, progress=progress,
        )
        self._policy = RetryPolicy(max_retries=max_retries)
        self._http = http or httpx.AsyncClient(**self._options.httpx_kwargs())
        self._max_batch = max_batch

    @property
    def base_url(self) -> str:
        return self._options.base_url

    # --- lifecycle -------------------------------------------------------------------

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRewardClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- evaluate --------------------------------------------------------------------

    async def evaluate(
        self, items: Sequence[Item | Mapping[str, Any]], *, wait_s: float | None = None
    ) -> list[Result]:
        """Judge ``items``; one ``Result`` per item, in input order.

        Raises:
            InvalidItem: an item does not match the wire model (nothing was sent).
            RequestRejected: the server refused the request as malformed (4xx).
            ServiceUnavailable: 429/502/503/504 after every retry.
            ServiceUnreachable: no connection after every retry.
            ClientTimeout: no answer (or a pending result not finished) within ``timeout_s``.
        """
        return [result async for result in self.iter_evaluate(items, wait_s=wait_s)]

    def iter_evaluate(
        self, items: Sequence[Item | Mapping[str, Any]], *, wait_s: float | None = None
    ) -> AsyncIterator[Result]:
        """Like :meth:`evaluate`, but yield the results in input order as soon as their
        chunk is judged (items are validated at the call, before anything is sent)."""
        wait_s = _batch.server_wait(self._options.timeout_s, wait_s)
        payloads = _batch.to_payloads(items)
        return self._stream(payloads, wait_s)

    async def _stream(self, payloads: list[_batch.Payload], wait_s: float) -> AsyncIterator[Result]:
        if not payloads:
            return
        bounds = _batch.chunk_bounds(len(payloads), await self.max_batch())
        bar = StatusBar(open_progress(self._options.progress, len(payloads)))
        gate = asyncio.Semaphore(self._options.concurrency)

        async def one(chunk: list[_batch.Payload]) -> list[Result]:
            async with gate:
                results = await self._evaluate_chunk(chunk, wait_s)
            bar.add(results)
            return results

        tasks = [asyncio.ensure_future(one(payloads[a:b])) for a, b in bounds]
        try:
            for task in tasks:
                for result in await task:
                    yield result
        finally:
            # A chunk failed, the caller stopped early or we were cancelled: stop the rest.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            bar.close()

    async def _evaluate_chunk(self, payloads: list[_batch.Payload], wait_s: float) -> list[Result]:
        results: list[Result | None] = [None] * len(payloads)
        todo = list(range(len(payloads)))

        async def send() -> list[int]:
            nonlocal todo
            again = await self._post_evaluate([payloads[i] for i in todo], wait_s)
            _batch.merge(results, todo, again)
            todo = [todo[i] for i in _batch.unjudged(again)]
            return todo

        await self._policy.async_resends()(send)
        return _batch.complete(results)

    async def _post_evaluate(self, payloads: list[_batch.Payload], wait_s: float) -> list[Result]:
        body = _batch.request_body(payloads, wait_s)
        try:
            answer = await self._request(
                "POST", "/v1/evaluate", Answer, json=body, prepare=open_pending
            )
        except RequestRejected as exc:
            if exc.status_code != 413 or len(payloads) < 2:
                raise
            # Over the server's batch limit after all: halve, remember, go on.
            half = len(payloads) // 2
            self._max_batch = min(self._max_batch or half, half)
            first = await self._post_evaluate(payloads[:half], wait_s)
            return first + await self._post_evaluate(payloads[half:], wait_s)
        _batch.check_count(answer.results, len(payloads), self._options.base_url)
        return await self._finish_pending(answer)

    async def _finish_pending(self, answer: Answer) -> list[Result]:
        """Poll the batch's job until every ``pending`` slot has its result."""
        polling = Polling(answer, timeout_s=self._options.timeout_s, url=self.base_url)
        while polling.slots:
            polling.check_time()
            await asyncio.sleep(self._options.poll_s)
            polling.update(await self.status(polling.job_id))
        return polling.results()

    async def max_batch(self) -> int:
        """The batch size used for chunks: the constructor's, else the server's limit."""
        if self._max_batch is None:
            self._max_batch = await self._discover_max_batch()
        return self._max_batch

    async def _discover_max_batch(self) -> int:
        try:
            limits = await self._request("GET", self._options.limits_path, ServerLimits)
        except ClientError:
            return _batch.DEFAULT_MAX_BATCH
        return limits.max_batch

    # --- jobs ------------------------------------------------------------------------

    async def submit(
        self, items: Sequence[Item | Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> str:
        """Queue ``items`` as one job and return its id (``POST /v1/jobs``), with an
        ``Idempotency-Key`` that is the same on every retry (see ``RewardClient.submit``)."""
        body = _batch.request_body(_batch.to_payloads(items), None)
        headers = {IDEMPOTENCY_HEADER: idempotency_key or uuid.uuid4().hex}
        created = await self._request("POST", "/v1/jobs", JobCreated, json=body, headers=headers)
        return created.job_id

    async def status(self, job_id: str) -> JobStatus:
        """Where a job stands (``GET /v1/jobs/{job_id}``); ``pending`` entries are ``None``."""
        return await self._request("GET", f"/v1/jobs/{job_id}", JobStatus, prepare=open_pending)

    async def wait(
        self, job_id: str, *, poll_s: float = 0.5, timeout_s: float | None = None
    ) -> list[Result]:
        """Poll until the job is done and return its results in input order.

        Raises:
            JobFailed: the job ended in state ``failed``.
            ClientTimeout: ``timeout_s`` passed first.
        """
        return [r async for r in self.iter_results(job_id, poll_s=poll_s, timeout_s=timeout_s)]

    async def iter_results(
        self, job_id: str, *, poll_s: float = 0.5, timeout_s: float | None = None
    ) -> AsyncIterator[Result]:
        """Yield a job's results in input order as soon as the server reports them."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        sent = 0
        while True:
            fresh, finished = job_outcome(job_id, await self.status(job_id), sent)
            for result in fresh:
                yield result
            sent += len(fresh)
            if finished:
                return
            if deadline is not None and time.monotonic() >= deadline:
                message = f"job {job_id} not done after {timeout_s} s"
                raise ClientTimeout(message, timeout_s=timeout_s)
            await asyncio.sleep(poll_s)

    # --- transport -------------------------------------------------------------------

    # --- test generation -------------------------------------------------------------

    async def testgen(
        self, items: Sequence[TestgenItem | Mapping[str, Any]], *, wait_s: float | None = None,
        batch: int = _testgen.DEFAULT_BATCH,
    ) -> list[TestgenResult]:
        """See :meth:`RewardClient.testgen`."""
        valid = _testgen.to_items(items)
        wait_s = _batch.server_wait(self._options.timeout_s, wait_s)
        out: list[TestgenResult] = []
        for start in range(0, len(valid), batch):
            out += await self._testgen_chunk(valid[start : start + batch], wait_s)
        return out

    async def _testgen_chunk(self, items: list[TestgenItem], wait_s: float) -> list[TestgenResult]:
        results: list[TestgenResult | None] = [None] * len(items)
        todo = list(range(len(items)))

        async def send() -> list[int]:
            nonlocal todo
            again = await self._post_testgen([items[i] for i in todo], wait_s)
            for index, result in zip(todo, again, strict=True):
                results[index] = result
            todo = [todo[i] for i in _testgen.unjudged(again)]
            return todo

        await self._policy.async_resends()(send)
        return _testgen.complete(results, items)

    async def _post_testgen(self, items: list[TestgenItem], wait_s: float) -> list[TestgenResult]:
        try:
            answer = await self._request("POST", "/v1/testgen", TestgenResponse, json=_testgen.body(items, wait_s))
        except RequestRejected as exc:
            if exc.status_code != 413 or len(items) < 2:
                raise
            half = len(items) // 2
            return await self._post_testgen(items[:half], wait_s) + await self._post_testgen(items[half:], wait_s)
        results = _testgen.checked(answer, len(items), self.base_url)
        deadline = time.monotonic() + self._options.timeout_s
        while answer.job_id and _testgen.unfinished(results):
            if time.monotonic() >= deadline:
                raise ClientTimeout(f"testgen job {answer.job_id} not done after {self._options.timeout_s} s",
                                    timeout_s=self._options.timeout_s)
            await asyncio.sleep(self._options.poll_s)
            state = await self._request("GET", f"/v1/jobs/{answer.job_id}", TestgenJobStatus)
            _testgen.fill(results, state, items)
        return _testgen.complete(results, items)

    async def _request(
        self, method: str, path: str, model: type[M], *, headers: Mapping[str, str] | None = None,
        prepare: Callable[[Any], Any] | None = None, **kwargs: Any,
    ) -> M:
        url = self._options.url(path)
        sent = {**self._options.headers(), **(headers or {})}
        async for attempt in self._policy.async_requests():
            with attempt:
                with translating(url, self._options.timeout_s):
                    response = await self._http.request(method, url, headers=sent, **kwargs)
                return parse_response(response, model, prepare=prepare)
        raise AssertionError("unreachable")  # pragma: no cover
