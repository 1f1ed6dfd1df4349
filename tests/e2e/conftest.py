"""End to end over real HTTP: real uvicorn, Redis, RQ workers and sandbox, driven by plain
httpx or the real client. The live stack is the root conftest's ``live_stack`` /
``live_service``; tests that need another variant build it with
:func:`tests.support.stack.serve_app` or :func:`~tests.support.stack.run_stack`."""
