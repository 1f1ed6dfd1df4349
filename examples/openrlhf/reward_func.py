"""OpenRLHF's ``reward_func.py``, backed by the service.

    UTRS_URL=http://utrs:8000 python -m openrlhf.cli.train_ppo_ray ... \\
        --reward.remote_url examples/openrlhf/reward_func.py --data.label_key tests

OpenRLHF loads this file by path and calls ``reward_func(queries, prompts, labels)``
from a thread per rollout; concurrent calls go to the service together. Each label is a
test spec (``client.adapters.item_from_spec``); ``UTRS_API_KEY`` is sent when set.
"""

from client.adapters.openrlhf import reward_func

__all__ = ["reward_func"]
