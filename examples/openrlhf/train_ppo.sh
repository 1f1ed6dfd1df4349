#!/usr/bin/env bash
# GRPO-style PPO with OpenRLHF 0.11 (flags after its April 2026 rename) on MBPP, rewarded
# by the service (needs GPUs, Ray and vLLM).
#
#   UTRS_URL=http://utrs:8000 MODE=http  bash examples/openrlhf/train_ppo.sh   # the service's route
#   UTRS_URL=http://utrs:8000 MODE=func  bash examples/openrlhf/train_ppo.sh   # reward_func.py
#   UTRS_URL=http://utrs:8000 MODE=agent bash examples/openrlhf/train_ppo.sh   # multi-turn repair
#
# The dataset's "tests" column is each prompt's test spec (--data.label_key). scores are
# the pass ratio, so dynamic filtering drops prompts every sample passes or fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${UTRS_URL:?the service, e.g. http://utrs:8000}"
MODEL=${MODEL:-Qwen/Qwen2.5-Coder-1.5B-Instruct}
MODE=${MODE:-http}
python examples/openrlhf/prepare_data.py trainer_example/data/mbpp.jsonl data/openrlhf/train.jsonl

case "$MODE" in
    http) REWARD=(--reward.remote_url "$UTRS_URL/v1/openrlhf/get_reward") ;;
    func) REWARD=(--reward.remote_url examples/openrlhf/reward_func.py) ;;
    agent) REWARD=(--train.agent_func_path examples/openrlhf/agent_func.py) ;;
    *) echo "MODE must be http, func or agent, got $MODE" >&2; exit 2 ;;
esac

python -m openrlhf.cli.train_ppo_ray \
    --actor.model_name_or_path "$MODEL" \
    --actor.num_gpus_per_node "${GPUS:-8}" \
    --vllm.num_engines "${ENGINES:-4}" \
    --train.colocate_all \
    --data.prompt_dataset data/openrlhf/train.jsonl \
    --data.input_key prompt \
    --data.label_key tests \
    --data.apply_chat_template \
    --data.max_len 2048 \
    --rollout.max_new_tokens 1024 \
    --rollout.n_samples_per_prompt 8 \
    --rollout.batch_size 128 \
    --train.batch_size 128 \
    --algo.advantage.estimator group_norm \
    --algo.dynamic_filtering_enable \
    --algo.dynamic_filtering_range 0.01 0.99 \
    --ckpt.output_dir runs/openrlhf \
    "${REWARD[@]}" "$@"
