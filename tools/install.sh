#!/usr/bin/env bash
# Idempotent set-up: apt packages, the .venv with the pinned Python dependencies, lidtool itself.
# A second run on a ready machine only checks stamps and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
. utils/lib.sh

apt=true
help_message="usage: tools/install.sh [--apt true|false]
Installs espeak-ng, libespeak-ng1, sox, slurm-wlm, munge (apt, if missing and root), creates .venv,
installs torch==2.13.0 (CPU) and the pinned dependencies of tools/requirements.txt under
tools/constraints.txt, and lidtool in editable mode."
. utils/parse_options.sh

apt_pkgs="espeak-ng libespeak-ng1 sox slurm-wlm munge"
if $apt; then
  missing=""
  for p in $apt_pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      die "missing apt packages:$missing (run as root, or install them and use --apt false)"
    fi
    log "apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($python --version)"
  $python -m venv .venv
fi
stamp=.venv/.lidtool-deps
want=$(cat tools/requirements.txt tools/constraints.txt setup.py | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -c tools/constraints.txt -r tools/requirements.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  .venv/bin/python -c "import torch, lhotse, kaldiio, kaldi_native_fbank, kaldi_hmm_gmm, kaldifst, kaldi_decoder, kaldilm, k2py; assert torch.__version__.startswith('2.13.0'), torch.__version__"
  echo "$want" > "$stamp"
fi
log "lidtool is ready: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)')"
