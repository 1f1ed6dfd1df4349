"""Old home of the live-stack helpers, kept as a re-export for code that imports them from
here (branches started before the test layout, local scripts).

The helpers live in :mod:`tests.support.redis_proc`, :mod:`tests.support.stack` and
:mod:`tests.support.waiting`; the fixtures (``redis_server``, ``live_stack``,
``live_service``) are in ``tests/conftest.py``. Import from those; remove this module once
nothing imports ``tests.service_fixtures``.
"""

from tests.support.redis_proc import RedisProc, start_redis
from tests.support.stack import Stack, run_stack, serve_app, stack_env
from tests.support.waiting import free_port, wait_until

__all__ = ["RedisProc", "Stack", "free_port", "run_stack", "serve_app", "stack_env", "start_redis", "wait_until"]
