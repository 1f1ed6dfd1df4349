"""Faults injected into a running stack (workers SIGKILLed mid-chunk, Redis restarted):
nothing may be lost. Stacks come from :func:`tests.support.stack.run_stack`, private
Redis servers from :func:`tests.support.redis_proc.start_redis`."""
