"""DeepSpeed set-up, checkpoints and resume; the only module that imports deepspeed.

One process per device under the ``deepspeed`` launcher; a plain ``python -m`` run is a
world of one (the rendezvous variables are filled in). On a machine without CUDA,
DeepSpeed's CPU accelerator (``DS_ACCELERATOR=cpu``) and the gloo backend are used and
bf16 is switched off; on CUDA the config's ``bf16`` section applies. The optimizer is
torch's AdamW (no DeepSpeed op has to be compiled). Generation reads the full weights
from the engine's module, so ZeRO stages 0-2 are supported (not 3). The policy and each
critic are separate engines (as in DeepSpeed-Chat), each with its own learning rate.

On the CPU DeepSpeed JIT-builds a shared-memory communication op into
``TORCH_EXTENSIONS_DIR``; its default (``~/.cache/torch_extensions``) is shared by every
virtual environment of the user, and two environments rebuild it over each other (a
minute's stall behind a lock file each time), so it defaults here to a folder inside
the running environment (``sys.prefix``) when that is writable.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import torch

from trainer_example.config import TrainConfig

__all__ = [
    "build_engine",
    "close_distributed",
    "ds_config",
    "init_distributed",
    "load_checkpoint",
    "save_checkpoint",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_distributed() -> None:
    """Initialise the process group (a world of one when not launched by deepspeed)."""
    defaults = {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if os.access(sys.prefix, os.W_OK):
        os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch_extensions"))
    import deepspeed
    from deepspeed.accelerator import get_accelerator

    deepspeed.init_distributed(dist_backend=get_accelerator().communication_backend_name())


def device() -> torch.device:
    from deepspeed.accelerator import get_accelerator

    return torch.device(get_accelerator().current_device_name())


def ds_config(config: TrainConfig, *, micro_batch: int) -> dict[str, Any]:
    """The DeepSpeed config file with the run's overrides applied."""
    ds: dict[str, Any] = json.loads(Path(config.ds_config).read_text())
    ds.pop("train_batch_size", None)
    ds["train_micro_batch_size_per_gpu"] = micro_batch
    if config.grad_accum is not None:
        ds["gradient_accumulation_steps"] = config.grad_accum
    if config.zero_stage is not None:
        ds.setdefault("zero_optimization", {})["stage"] = config.zero_stage
    ds["gradient_clipping"] = config.grad_clip
    ds["zero_allow_untested_optimizer"] = True
    if device().type != "cuda":  # CPU runs in fp32
        ds.pop("bf16", None)
        ds.pop("fp16", None)
    return ds


def close_distributed() -> None:
    """Tear the process group down (a gloo world that is left up aborts at exit)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def build_engine(module: torch.nn.Module, config: TrainConfig, *, micro_batch: int, lr: float) -> Any:
    """``deepspeed.initialize`` over ``module`` with torch AdamW at ``lr``; the engine."""
    import deepspeed

    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    engine, *_ = deepspeed.initialize(
        model=module, optimizer=optimizer, config=ds_config(config, micro_batch=micro_batch)
    )
    return engine


def save_checkpoint(engine: Any, directory: Path, step: int, state: dict[str, Any]) -> None:
    """Save weights, optimizer and ``state`` (trainer bookkeeping) under tag ``step<N>``."""
    engine.save_checkpoint(str(directory), tag=f"step{step}", client_state=state)


def load_checkpoint(engine: Any, directory: Path) -> dict[str, Any] | None:
    """Load the latest checkpoint in ``directory``; its trainer state, or None if none."""
    if not (directory / "latest").exists():
        return None
    path, state = engine.load_checkpoint(str(directory))
    if path is None:
        return None
    return dict(state or {})
