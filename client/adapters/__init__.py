"""Thin adapters for the trainers people already use.

- :mod:`client.adapters.trl`: a GRPO-style ``reward_fn(prompts, completions, **kwargs)``.
- :mod:`client.adapters.verl`: ``compute_score(data_source, solution_str, ground_truth,
  extra_info)`` (and a batched variant).
- :mod:`client.adapters.openrlhf`: the request/response shape of OpenRLHF's remote reward
  model (served by the service at ``POST /v1/openrlhf/get_reward``) and a ``reward_func``
  for its ``--remote_rm_url reward_func.py`` mode.

None of the frameworks is a dependency: an adapter imports its framework only where the
user has it. Tests come from the dataset as a *spec* (see :func:`item_from_spec`).
"""

from client.adapters._spec import extract_code, item_from_spec, rewards_of

__all__ = ["extract_code", "item_from_spec", "rewards_of"]
