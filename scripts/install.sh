#!/usr/bin/env bash
# Install ensembles-toolkit into the current Python environment.
#   bash scripts/install.sh          # runtime (demo, analysis, training)
#   bash scripts/install.sh --dev    # plus the test/notebook tooling and optional extras used by the tests
# Where no NVIDIA accelerator is present, the CPU build of torch is installed first, so that pip does not
# resolve an unpinned `torch` to a multi-GB CUDA build. A plain `pip install .` still works anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=""
if [[ "${1:-}" == "--dev" ]]; then extras="[dev,nwb,distributed]"; fi
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch>=2.1"
  else
    # CPU wheel (stored locally on the project's machines).
    "$PY" -m pip install --quiet "torch==2.13.0"
  fi
fi
"$PY" -m pip install --quiet -e ".${extras}"
