"""Load tests (sized down in CI, full size on a command): the place the load issue fills.
They build their stacks with :func:`tests.support.stack.run_stack` like tests/faults."""
