"""This process's place in the (possibly one-process) world."""

from __future__ import annotations

import torch.distributed as dist

__all__ = ["rank", "world"]


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1
