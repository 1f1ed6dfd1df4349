"""Thin adapters for the trainers people already use (versions tested: docs/client.md).

- :mod:`client.adapters.trl`: GRPO reward functions, sync and ``async def``.
- :mod:`client.adapters.trl_env`: a multi-turn repair environment for TRL's
  ``environment_factory`` (a ``run_tests(code)`` tool).
- :mod:`client.adapters.verl`: ``compute_score`` for verl's reward loop (``async``, grouping
  concurrent samples), sync, float and batched variants.
- :mod:`client.adapters.openrlhf`: ``reward_func`` for OpenRLHF's ``reward_func.py`` mode and
  the body of its HTTP mode (served at ``POST /v1/openrlhf/get_reward``).
- :mod:`client.adapters.openrlhf_agent`: the step function of OpenRLHF's agent mode.

None of the frameworks is a dependency: an adapter imports its framework only where the
user has it. Tests come from the dataset as a *spec* (see :func:`item_from_spec`). An
adapter holds a picklable :class:`Connection`; the HTTP client is made lazily in each
process that uses it.
"""

from client.adapters._clients import Connection
from client.adapters._spec import extract_code, item_from_spec, reward_or_none, rewards_of

__all__ = ["Connection", "extract_code", "item_from_spec", "reward_or_none", "rewards_of"]
