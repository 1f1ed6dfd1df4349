#!/usr/bin/env bash
# GRPO with verl 0.9 on MBPP/APPS/HumanEval, rewarded by the service (needs GPUs).
#
#   UTRS_URL=http://utrs:8000 MODEL=Qwen/Qwen2.5-Coder-1.5B-Instruct bash examples/verl/run_grpo.sh
#
# 1. the parquet files (verl's format, test specs as ground truth);
# 2. verl's trainer with examples/verl/utrs_grpo.yaml (reward: client.adapters.verl).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${UTRS_URL:?the service, e.g. http://utrs:8000}"
MODEL=${MODEL:-Qwen/Qwen2.5-Coder-1.5B-Instruct}
GPUS=${GPUS:-8}
python examples/verl/preprocess.py --mbpp trainer_example/data/mbpp.jsonl \
    --apps tests/data/apps_train_sample --out data/utrs
python -m verl.trainer.main_ppo --config-path="$PWD/examples/verl" --config-name=utrs_grpo \
    actor_rollout_ref.model.path="$MODEL" \
    trainer.n_gpus_per_node="$GPUS" trainer.nnodes=1 "$@"
