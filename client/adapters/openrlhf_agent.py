"""Multi-turn repair in OpenRLHF's agent mode (``--train.agent_func_path agent_func.py``).

OpenRLHF's ``MultiTurnAgentExecutor`` makes one agent instance per prompt, calls
``await reset({"observation": prompt, "label": label})`` and then, after each generated
turn, ``await step({"observation_text", "action_text", "label", "sampling_params"})``; it
sums ``rewards`` over the steps, keeps the last step's ``scores`` and ``extra_logs``, and
appends ``environment_feedback`` to the context before generating the next turn, until
``done``. :class:`RepairAgent` is that step function: every turn's program is judged, the
model gets :func:`client.feedback_text` of the verdict as the next turn, and the final
turn (all tests pass, or ``max_turns``) carries the verdict's reward on the final
program (earlier turns 0, so the sum is that reward) and its pass ratio as the score.

OpenRLHF requires its own base classes; ``examples/openrlhf/agent_func.py`` is the file
to point it at (three lines of glue around this class). Items of the turns of concurrent
rollouts are grouped into shared requests.
"""

from __future__ import annotations

import importlib
from typing import Any

from client.adapters._clients import Connection
from client.adapters._group import evaluate_grouped
from client.adapters._openrlhf_wire import response_text
from client.adapters.repair import RepairTask
from client.errors import NotScored

__all__ = ["DEFAULT_TURN", "RepairAgent"]

#: How feedback becomes the next user turn (a ChatML template; ``{feedback}`` is the text).
DEFAULT_TURN = (
    "<|im_end|>\n<|im_start|>user\n{feedback}\nFix the program and answer with the whole "
    "corrected program in one ```python block.<|im_end|>\n<|im_start|>assistant\n"
)


class RepairAgent:
    """One rollout's repair loop, called as OpenRLHF calls an ``AgentInstance``."""

    def __init__(
        self, connection: Connection | None = None, *, max_turns: int = 3,
        reward_key: str = "total", turn_template: str = DEFAULT_TURN, max_chars: int = 1500,
    ) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        self._connection = connection or Connection(timeout_s=170.0, concurrency=64)
        self._max_turns = max_turns
        self._reward_key = reward_key
        self._turn_template = turn_template
        self._max_chars = max_chars
        self._task: RepairTask | None = None

    async def reset(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Start on ``states["label"]`` (the test spec); the observation is unchanged."""
        del kwargs
        self._task = RepairTask(states["label"], self._reward_key, self._max_chars)
        return states

    async def step(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Judge this turn's program; the feedback, or the final reward.

        Raises:
            NotScored: the program could not be judged after the client's retries.
        """
        del kwargs
        task = self._task or RepairTask(states["label"], self._reward_key, self._max_chars)
        self._task = task
        item = task.item(response_text(states["action_text"], None))
        [result] = await evaluate_grouped(self._connection, [item])
        attempt = task.record(item, result)
        reward, score = task.reward(), task.score()
        if reward is None or score is None:
            raise NotScored([0], [str(result.status)], result.detail or "no verdict for this turn")
        done = attempt.passed or len(task.attempts) >= self._max_turns
        feedback = "" if done else self._turn_template.format(feedback=attempt.feedback)
        return _tensors({
            "rewards": reward if done else 0.0,
            "scores": score,
            "environment_feedback": feedback,
            "done": done,
            "extra_logs": {"pass_ratio": score, "turns": float(len(task.attempts))},
        })


def _tensors(step: dict[str, Any]) -> dict[str, Any]:
    """``rewards``/``scores`` as torch scalars: OpenRLHF calls ``.item()`` on them."""
    torch = importlib.import_module("torch")
    return {**step, "rewards": torch.tensor(step["rewards"]), "scores": torch.tensor(step["scores"])}
