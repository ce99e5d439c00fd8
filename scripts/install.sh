#!/usr/bin/env bash
# Install ensembles-toolkit into the project environment `.venv` and leave the tools in `.venv/bin`.
#   bash scripts/install.sh          # runtime (demo, analysis, training)
#   bash scripts/install.sh --dev    # plus the test/notebook tooling and the optional extras the tests cross-check
#
# Which Python environment:
#   - inside an active virtual environment or conda environment (or PYTHON=/path/to/env/bin/python): that one;
#     `.venv` becomes a link to it, so `.venv/bin/ensembles` works the same way;
#   - otherwise (the distribution's `python3`, marked externally managed by PEP 668, or a pyenv/system interpreter):
#     a project virtual environment is created in `.venv` with that interpreter (PYTHON, default python3) and used.
# Where no NVIDIA accelerator is present, the CPU build of torch is installed first, so that pip does not resolve
# an unpinned `torch` to a multi-GB CUDA build. A plain `pip install .` into an environment of your own still works.
# Each step says what it does; a `.venv` left unusable by an earlier failed creation (no python, or no pip) is
# detected and the fix named.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=""
case "${1:-}" in
  "") ;;
  --dev) extras="[dev,nwb,slurm,rsa,pynapple]" ;;
  *) echo "install.sh: unknown option '$1' (expected nothing or --dev)" >&2; exit 2 ;;
esac
say() { echo "install.sh: $*"; }
step() { echo "install.sh: [$1/4] $2 (${SECONDS} s so far)"; }
command -v "$PY" >/dev/null 2>&1 || { echo "install.sh: no Python interpreter '$PY' (set PYTHON=...)" >&2; exit 2; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || { echo "install.sh: $("$PY" --version 2>&1) is too old; ensembles needs Python >= 3.10" >&2; exit 2; }

# Is $PY already an environment of its own (venv, virtualenv or conda)?
env_prefix=$("$PY" - <<'EOF'
import os, sys
conda = os.environ.get("CONDA_PREFIX", "")
in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
in_conda = bool(conda) and os.path.realpath(sys.prefix) == os.path.realpath(conda) and os.path.isdir(os.path.join(conda, "conda-meta"))
print(sys.prefix if (in_venv or in_conda) else "")
EOF
)
if [[ -n "$env_prefix" ]]; then
  if [[ -e .venv && ! -L .venv && "$(cd .venv && pwd -P)" != "$(cd "$env_prefix" && pwd -P)" ]]; then
    echo "install.sh: a project environment .venv exists, but another environment is active ($env_prefix)." >&2
    echo "  Deactivate it to use .venv, or remove .venv to install into the active one." >&2
    exit 2
  fi
  [[ -L .venv ]] && rm .venv
  [[ -e .venv ]] || ln -s "$env_prefix" .venv
  step 1 "Python environment: installing into the active environment $env_prefix (linked as .venv)"
else
  broken=""
  if [[ -L .venv && ! -e .venv ]]; then
    broken="it is a link to an environment that no longer exists ($(readlink .venv))"
  elif [[ -e .venv && ! -x .venv/bin/python ]]; then
    broken="it has no .venv/bin/python"
  elif [[ -x .venv/bin/python ]] && ! .venv/bin/python -c "import pip" >/dev/null 2>&1; then
    broken="its Python has no pip"
  fi
  if [[ -n "$broken" ]]; then
    echo "install.sh: .venv is unusable: $broken (an earlier creation failed, e.g. without python3-venv)." >&2
    echo "  Fix: rm -rf .venv  (on Debian/Ubuntu also: sudo apt install python3-venv), then run this script again." >&2
    exit 2
  fi
  if [[ ! -e .venv ]]; then
    step 1 "Python environment: creating .venv with $("$PY" --version 2>&1) ($(command -v "$PY"))"
    "$PY" -m venv .venv || {
      rm -rf .venv  # the partial environment this step created
      echo "install.sh: '$PY -m venv .venv' failed (see above); on Debian/Ubuntu install the venv module with:" >&2
      echo "  sudo apt install python3-venv   and run this script again." >&2
      exit 2
    }
  else
    step 1 "Python environment: using the existing .venv ($(.venv/bin/python --version 2>&1))"
  fi
fi
VPY=.venv/bin/python
step 2 "updating pip in .venv"
"$VPY" -m pip install --quiet --upgrade "pip>=23" >/dev/null 2>&1 || say "pip could not be updated; going on with $("$VPY" -m pip --version | cut -d' ' -f1-2)"
if "$VPY" -c "import torch" >/dev/null 2>&1; then
  step 3 "torch: already installed ($("$VPY" -c 'import torch; print(torch.__version__)'))"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  step 3 "torch: installing the CUDA build (an NVIDIA GPU is present; a download of a few GB, minutes)"
  "$VPY" -m pip install --quiet "torch>=2.1"
else
  # CPU wheel (stored locally on the project's machines).
  step 3 "torch: installing the CPU build (no NVIDIA GPU here; about 200 MB, a minute or two)"
  "$VPY" -m pip install --quiet "torch==2.13.0"
fi
step 4 "ensembles-toolkit${extras} and its dependencies (numpy, scipy, pandas, xarray, dask, matplotlib, ...; a minute or two)"
"$VPY" -m pip install --quiet -e ".${extras}"
say "done in ${SECONDS} s; the tools are in .venv/bin (e.g. .venv/bin/ensembles --help)"
