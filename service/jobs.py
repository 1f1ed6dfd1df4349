"""The RQ job functions under their import strings of the releases before the stage
layout, kept as aliases.

A job records its function (``service.jobs.run_chunk``) and its failure callback
(``service.jobs.on_chunk_failure``) by import string, so a job queued by an older API
still names these. Workers of this release run it through this module.

Remove it one release after the layout change, once no Redis of a deployment holds a job
of an older release: none queued (``LRANGE rq:queue:<queue_name> 0 -1``) and none in a
failed-job registry younger than ``failure_ttl_s``. New jobs use
:data:`service.queue.envelope.RUN_CHUNK` and :data:`~service.queue.envelope.ON_CHUNK_FAILURE`.
"""

from service.worker.jobs import on_chunk_failure, run_chunk

__all__ = ["on_chunk_failure", "run_chunk"]
