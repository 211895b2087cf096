#!/usr/bin/env bash
# Submit a recipe to a running Ray cluster as a Ray job.
#
#   RAY_ADDRESS=http://head:8265 docker/submit.sh recipes/anatomy_r1_ssgvqa.yaml trainer.nnodes=2 ...
#
# The cluster's nodes must run docker/Dockerfile's image (the package installed: verl loads its plugin in
# every worker). Data and model paths in the recipe must be visible from every node (shared storage);
# set ANATOMY_R1_OUTPUT_DIR to a shared folder for checkpoints and metrics.
set -euo pipefail
RECIPE=${1:?usage: docker/submit.sh RECIPE [hydra overrides...]}
shift
: "${RAY_ADDRESS:?set RAY_ADDRESS to the Ray dashboard address, e.g. http://head:8265}"
OUT=${ANATOMY_R1_OUTPUT_DIR:-/shared/anatomy_r1}
ENV_JSON=$(cat <<JSON
{"env_vars": {"ANATOMY_R1_OUTPUT_DIR": "$OUT", "TOKENIZERS_PARALLELISM": "false",
              "HF_HUB_OFFLINE": "${HF_HUB_OFFLINE:-1}", "WANDB_API_KEY": "${WANDB_API_KEY:-}"}}
JSON
)
exec ray job submit --address "$RAY_ADDRESS" --runtime-env-json "$ENV_JSON" --no-wait -- \
  anatomy-r1 train "$RECIPE" profile=gpu "$@"
