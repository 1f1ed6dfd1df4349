"""A worker's background heartbeats (a thread beside RQ's work loop, see
:mod:`service.worker.main`):

* the service's: ``P:workers`` (zset name -> time) and ``P:image`` (image version), which
  the API reads for admission (503 without live workers) and cache keys;
* RQ's, for the running job (RQ's own bookkeeping);

and every ``worker_maintenance_s`` it takes back the chunks of workers whose heartbeat
stopped (:mod:`service.worker.recovery`): a killed worker's chunk runs again within
``worker_dead_after_s`` + ``worker_maintenance_s`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from service.errors import BackendUnavailable
from service.queue.keys import RedisKeys
from service.queue.redis import translate_redis_errors
from service.settings import Settings
from service.worker.recovery import reap

if TYPE_CHECKING:
    from service.worker.main import PoolWorker

__all__ = ["Presence"]

log = logging.getLogger(__name__)


class Presence:
    """Background heartbeats of one worker (see the module docstring)."""

    def __init__(self, worker: PoolWorker, keys: RedisKeys, image: str, settings: Settings) -> None:
        self.worker = worker
        self.keys = keys
        self.image = image
        self.settings = settings
        self.every_s = min(settings.worker_heartbeat_s, settings.worker_maintenance_s)
        self.reap_every_s = settings.worker_maintenance_s
        self.ttl_s = settings.worker_dead_after_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="utrs-presence", daemon=True)

    def __enter__(self) -> Presence:
        self.beat()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 1)
        try:
            with translate_redis_errors("deregistering"):
                self.worker.connection.zrem(self.keys.workers, self.worker.name)
        except BackendUnavailable:
            log.warning("worker %s: could not deregister (Redis unavailable)", self.worker.name)

    def beat(self) -> None:
        """Register this worker as alive now, with its image version.

        Raises:
            BackendUnavailable: Redis failed.
        """
        now = time.time()
        with translate_redis_errors("sending a heartbeat"), self.worker.connection.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.workers, {self.worker.name: now})
            pipe.zremrangebyscore(self.keys.workers, "-inf", now - 10 * self.ttl_s)
            pipe.set(self.keys.image, self.image, ex=self.ttl_s)
            pipe.execute()

    def _run(self) -> None:
        next_reap = 0.0
        while not self._stop.wait(self.every_s):
            try:
                self.beat()
                with translate_redis_errors("extending the running job's heartbeat"):
                    self.worker.beat_running_job()
                if time.monotonic() >= next_reap:
                    next_reap = time.monotonic() + self.reap_every_s
                    with translate_redis_errors("taking back dead workers' chunks"):
                        reap(self.worker.connection, self.settings, self.keys)
            except BackendUnavailable as exc:  # Redis restarting: keep trying
                log.warning("worker %s: heartbeat failed: %s", self.worker.name, exc)
            except Exception:  # a bug here must not kill the heartbeat silently
                log.exception("worker %s: heartbeat error", self.worker.name)
