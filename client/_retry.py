"""When the client tries again, built on tenacity for the sync and the async clients.

Two loops: one HTTP request against "not now" answers (429 with its ``Retry-After``, a
proxy's 502/504, 503, lost connections; never another 4xx), and the re-sending of items
that came back ``infra_error`` (only those items, until they are judged or the retries
are spent; then they are returned as they are).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import tenacity

from client.errors import ServiceUnavailable, ServiceUnreachable

__all__ = ["RetryPolicy", "retry_after_of", "retryable"]


def retryable(error: BaseException) -> bool:
    """Only "not now" answers and lost connections are retried; never a 4xx."""
    return isinstance(error, ServiceUnreachable | ServiceUnavailable)


def retry_after_of(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, ServiceUnavailable) else None


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` wins when the server sends one."""

    max_retries: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    max_retry_after_s: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt + 1`` (``attempt`` from 0)."""
        if retry_after is not None:
            # Honour the server's hint, plus a little jitter so clients do not stampede.
            wait = min(max(retry_after, 0.0), self.max_retry_after_s)
            return wait + random.uniform(0.0, min(1.0, 0.1 * wait + 0.05))
        ceiling = min(self.cap_s, self.base_s * 2.0**attempt)
        return ceiling / 2.0 + random.uniform(0.0, ceiling / 2.0)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        return self.delay(state.attempt_number - 1, retry_after_of(error))

    def _stop(self) -> tenacity.stop.stop_base:
        return tenacity.stop_after_attempt(self.max_retries + 1)

    def requests(self) -> tenacity.Retrying:
        """Retrying for one HTTP request; the last error is raised as it is."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(retryable), stop=self._stop(), wait=self._wait, reraise=True
        )

    def async_requests(self) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(retryable), stop=self._stop(), wait=self._wait, reraise=True
        )

    def resends(self) -> tenacity.Retrying:
        """Retrying a step that returns the positions still unjudged (empty: done). An
        error inside the step is raised at once (its requests had their own retries);
        after the last attempt, what is left unjudged is returned, not raised."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_result(_left), stop=self._stop(), wait=self._wait,
            retry_error_callback=_last_result,
        )

    def async_resends(self) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            retry=tenacity.retry_if_result(_left), stop=self._stop(), wait=self._wait,
            retry_error_callback=_last_result,
        )


def _left(todo: Sequence[int]) -> bool:
    return bool(todo)


def _last_result(state: tenacity.RetryCallState) -> object:
    assert state.outcome is not None
    return state.outcome.result()
