#!/usr/bin/env bash
# Create .venv and install the project for CPU (verl 0.9.1, Ray, torch 2.13.0 CPU, tiny-model tooling).
# Idempotent: a second run only checks. GPU clusters: see docker/ (pip install .[gpu]).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.anatomy_r1_installed
want="$(cat setup.py constraints.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  # the CPU build first, so nothing pulls a CUDA torch
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import verl, anatomy_r1_verl.plugin as p; p.self_check()" 2>/dev/null \
  || { echo "setup: the verl plugin did not load; run .venv/bin/anatomy-r1 doctor" >&2; exit 1; }
echo "setup: ok ($(.venv/bin/python -c 'import verl, torch; print("verl", verl.__version__, "torch", torch.__version__)' 2>/dev/null))"
