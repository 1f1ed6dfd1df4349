"""OpenRLHF's agent file for multi-turn repair, backed by the service.

    UTRS_URL=http://utrs:8000 python -m openrlhf.cli.train_ppo_ray ... \\
        --train.agent_func_path examples/openrlhf/agent_func.py --data.label_key tests

Each turn's program is judged; the next turn is the service's feedback (the failing
test, the error and its line); the rollout ends when all tests pass or after three
turns, with the verdict's reward on the final program (``client.adapters.openrlhf_agent``).
"""

from typing import Any

from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor

from client.adapters.openrlhf_agent import RepairAgent

MAX_TURNS = 3


class AgentInstance(AgentInstanceBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.agent = RepairAgent(max_turns=MAX_TURNS)

    async def reset(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return await self.agent.reset(states, **kwargs)

    async def step(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return await self.agent.step(states, **kwargs)


class AgentExecutor(MultiTurnAgentExecutor):
    def __init__(self) -> None:
        super().__init__(AgentInstance)
